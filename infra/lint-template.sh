#!/usr/bin/env bash
# Lints template.yaml: cfn-lint (CloudFormation + SAM transform) and `sam validate --lint`.
# Exits non-zero when either finds a problem. Needs the tools of infra/tools.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv-tools/bin:$PATH"
export SAM_CLI_TELEMETRY=0
cd "$ROOT"

for tool in cfn-lint sam; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found: run bash infra/tools.sh" >&2; exit 1; }
done

echo "lint: cfn-lint template.yaml (informational checks included)"
cfn-lint --include-checks I -- template.yaml
echo "lint: sam validate --lint"
sam validate --lint --template-file template.yaml
echo "lint: template.yaml is clean"
