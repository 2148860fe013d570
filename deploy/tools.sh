#!/usr/bin/env bash
# Installs the operator and load-tester Go tools into .cache/bin, idempotently, from the Go module proxy.
# Usage: deploy/tools.sh [kustomize|ghz|grpcurl|grpc-health-probe|all]...   (default: all)
# A tool is rebuilt only when its pinned version changes (a stamp file beside the binary records it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PARTA_TOOLS_BIN:-$ROOT/.cache/bin}"
mkdir -p "$BIN"

# name -> module@version. kustomize v5.7.1 is the newest release whose module graph builds on Go 1.26
# (v5.8.x pulls kustomize/api v0.21.x, which the proxy resolves to a version that wants Go 1.27).
declare -A TOOLS=(
  [kustomize]="sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"
  [ghz]="github.com/bojand/ghz/cmd/ghz@v0.121.0"
  [grpcurl]="github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"
  [grpc-health-probe]="github.com/grpc-ecosystem/grpc-health-probe@v0.4.62"
)

install_one() {
  local name="$1" spec="${TOOLS[$1]:-}"
  if [[ -z "$spec" ]]; then
    echo "tools.sh: unknown tool '$name' (known: ${!TOOLS[*]})" >&2
    return 2
  fi
  local stamp="$BIN/.$name.version"
  if [[ -x "$BIN/$name" && -f "$stamp" && "$(cat "$stamp")" == "$spec" ]]; then
    return 0
  fi
  echo "tools.sh: installing $spec into $BIN" >&2
  # CGO off: static binaries, no C toolchain needed; -trimpath keeps builds reproducible.
  CGO_ENABLED=0 GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -trimpath" go install "$spec"
  echo "$spec" >"$stamp"
}

if ! command -v go >/dev/null 2>&1; then
  echo "tools.sh: the Go toolchain is required (go install from the Go module proxy)" >&2
  exit 1
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 || "${targets[0]}" == "all" ]]; then
  targets=(kustomize ghz grpcurl grpc-health-probe)
fi
for t in "${targets[@]}"; do
  install_one "$t"
done
