"""Generate Python, gRPC and mypy stubs from proto/ into libs/contracts/src (build output, git-ignored)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
OUT = ROOT / "libs" / "contracts" / "src"


def main() -> int:
    shutil.rmtree(OUT / "parta", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    bin_dir = Path(sys.executable).parent
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *sources,
    ]
    code = protoc.main(args)
    if code != 0:
        print("protoc failed", file=sys.stderr)
        return int(code)
    # Regular packages (not namespace ones) keep imports and type checkers simple.
    for folder in (OUT / "parta").rglob("*"):
        if folder.is_dir():
            (folder / "__init__.py").touch()
    (OUT / "parta" / "__init__.py").touch()
    (OUT / "parta" / "py.typed").touch()
    print(f"generated {len(sources)} proto files into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
