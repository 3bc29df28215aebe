"""``python -m glmjax``: the main job, a Poisson regression of physician visits (RAND HIE).

With arguments it is the ``glmjax`` command (``python -m glmjax fit data.csv ...``).
"""

import sys

from glmjax._cli import demo, main_exit

if __name__ == "__main__":
    main_exit(run=None if len(sys.argv) > 1 else demo)
