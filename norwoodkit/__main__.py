"""``python -m norwoodkit``: the same as the ``norwoodkit`` command."""

from norwoodkit.cli import main

if __name__ == "__main__":
    main()
