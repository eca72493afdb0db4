#!/usr/bin/env bash
# Installs the local AWS tooling into <workspace>/.venv-tools, pinned to the versions the suites
# are run with: moto (emulator for the contract tests), SAM CLI and cfn-lint (template checks),
# cargo-lambda (Lambda builds, with zig from the ziglang wheel).
#
# Idempotent: when the venv already holds these exact versions it returns at once.
# Afterwards:  export PATH="$PWD/.venv-tools/bin:$PATH"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-tools"
PYTHON="${PYTHON:-python3}"

PINS=(
  "moto[server]==5.2.5"
  "aws-sam-cli==1.170.0"
  "cfn-lint==1.58.0"
  "cargo-lambda==1.9.2"
)
STAMP="$VENV/.llbridge-tools"

# One installer at a time (test binaries may ask for the tools at once).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ROOT/.venv-tools.lock"
  flock 9
fi
WANT="$(printf '%s\n' "${PINS[@]}")"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] \
  && [[ -x "$VENV/bin/moto_server" && -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" && -x "$VENV/bin/cargo-lambda" ]]; then
  echo "tools: up to date in $VENV"
  exit 0
fi

if [[ ! -x "$VENV/bin/python3" ]]; then
  echo "tools: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

echo "tools: installing ${PINS[*]}"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
"$VENV/bin/pip" check
printf '%s\n' "${PINS[@]}" >"$STAMP"

echo "tools: ready ($("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null || echo cargo-lambda), $("$VENV/bin/sam" --version), cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'))"
echo "tools: export PATH=\"$VENV/bin:\$PATH\""
