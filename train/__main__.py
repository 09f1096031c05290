"""`python -m train`: the train stage's commands (same as `dobae …`)."""

from dobae.cli import main

if __name__ == "__main__":
    main()
