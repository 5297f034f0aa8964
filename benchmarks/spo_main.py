"""``spo`` as a module, so a profiler can run it: ``python -m cProfile -o out.prof -m
benchmarks.spo_main --db x.db due --all``. Behaves exactly like the ``spo`` console script."""

from spo_tracker.entry.cli import main

if __name__ == "__main__":
    main()
