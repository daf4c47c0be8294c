"""Runs a command so that `--help` lists the command's own flags."""

import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def launch(main, define_flags, *module_names):
    """Defines the flags and runs `main` with absl.

    absl's `--help` lists the flags of the main module, which for an
    installed console script is the generated wrapper (no flags at all):
    the command's flags are declared key flags of that wrapper too.

    Args:
        main: the absl main function.
        define_flags: callable that defines the command's flags.
        *module_names: str. The modules whose flags are the command's
            (`__name__` of the caller, and of modules it borrows flags
            from).
    """
    define_flags()
    for name in module_names:
        for flag in FLAGS.get_key_flags_for_module(name):
            FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(main)
