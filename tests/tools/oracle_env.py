"""What the Python oracle scripts share: CI's rule for missing prerequisites (skip, or fail in CI), running under the
oracle venv's python (BQ_PYTHON, packaging/python-oracles.sh), and where the SmolLM2 test model is."""
import importlib.util
import os
import sys

SKIP = 77  # CTest SKIP_RETURN_CODE


def in_ci():
    return os.environ.get("CI", "") not in ("", "0", "false", "False", "FALSE")


def skip_or_fail(message):
    """A missing prerequisite: a skip (exit 77) outside CI, a failure in CI."""
    if in_ci():
        print("MISSING: " + message + " (CI is set, so this is a failure, not a skip)")
        sys.exit(1)
    print("SKIPPED: " + message)
    sys.exit(SKIP)


def use_oracle_python(modules):
    """Re-runs the script under $BQ_PYTHON (CTest starts it with the system python), then requires `modules`."""
    python = os.environ.get("BQ_PYTHON", "")
    if python and os.path.exists(python) and os.environ.get("BQ_ORACLE_CHILD") != "1" \
            and os.path.realpath(sys.executable) != os.path.realpath(python):
        os.environ["BQ_ORACLE_CHILD"] = "1"
        os.execv(python, [python, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        skip_or_fail("Python packages " + ", ".join(absent) + " are missing; run with "
                     "BQ_PYTHON=$(bash packaging/python-oracles.sh) (dev.sh test exports it)")


def smollm2_path():
    """BQ_SMOLLM2_GGUF, else the cache packaging/fetch-models.sh fills (as tests/support smollm2Path())."""
    if os.environ.get("BQ_SMOLLM2_GGUF"):
        return os.environ["BQ_SMOLLM2_GGUF"]
    cache = os.environ.get("BQ_MODEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "bitstudio", "models")
    return os.path.join(cache, "SmolLM2-135M-Instruct.Q4_1.gguf")
