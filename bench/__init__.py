"""Load benchmarks: what the gateway adds on top of the upstream alone (`make bench`).

Nothing here is collected by pytest; tests/test_bench_quick.py runs the harness once in quick mode.
"""
