#!/usr/bin/env bash
# Lints the CloudFormation templates of the multi-region stack, for `make test` (after
# `cargo test --workspace`):
# - the regional template the stack set deploys (`tandem template --env ENV`, rendered for every
#   environment but the local cloud's; identical renderings are linted once), and
# - the template of the stack set's administration and execution roles (program.rs, printed by the
#   stack crate's `stackset_roles_template` example),
# with cfn-lint (0 errors required, for the environments' regions; warnings are listed) and
# checkov (0 failed checks required; every skip is a `Metadata: checkov: skip` on its resource,
# with its reason, and is listed). Then the execution role's actions are checked against the
# handler permissions of the regional template's resource types (tests/lint_execution_role.py).
#
# The tools live in a virtual environment cached outside the checkout, one per pair of pinned
# versions (TANDEM_LINT_VENV overrides the path); the first run installs them with pip from PyPI
# (about 3 minutes here), later runs reuse it.
#
# Exit status: 0 clean; 1 a finding; 2 the tools could not be installed or a template could not be
# rendered.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
CARGO=${CARGO:-cargo}
PYTHON=${PYTHON:-python3}
VENV=${TANDEM_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem/lint-venv-cfn-lint-$CFN_LINT_VERSION-checkov-$CHECKOV_VERSION}

say() { printf 'lint_template: %s\n' "$*"; }
die() { printf 'lint_template: %s\n' "$*" >&2; exit 2; }

# 1. The tools, in their cached virtual environment. `.installed` is written last: a venv without
# it (an interrupted install) is made again.
if [[ ! -f "$VENV/.installed" ]]; then
    say "installing cfn-lint==$CFN_LINT_VERSION and checkov==$CHECKOV_VERSION into $VENV (first run only)"
    start=$(date +%s)
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" ||
        die "cannot create a virtual environment with $PYTHON -m venv (Debian: apt-get install python3-venv)"
    log=$(mktemp)
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "cfn-lint==$CFN_LINT_VERSION" "checkov==$CHECKOV_VERSION" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        rm -rf "$VENV"
        die "pip could not install cfn-lint==$CFN_LINT_VERSION and checkov==$CHECKOV_VERSION (its output is above): is PyPI reachable (network, proxy, PIP_INDEX_URL)?"
    fi
    rm -f "$log"
    touch "$VENV/.installed"
    say "installed in $(($(date +%s) - start)) s"
fi
PY="$VENV/bin/python"

# 2. The templates.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$CARGO" build --quiet --bin tandem || die "cannot build the tandem binary"
declare -A rendered=()
templates=()
regions=()
for file in environments/*.toml; do
    env=$(basename "$file" .toml)
    [[ "$env" == local ]] && continue
    # The environment's regions (cfn-lint checks resource types and values per region).
    read -r -a env_regions < <("$PY" -c '
import sys, tomllib
e = tomllib.load(open(sys.argv[1], "rb"))["environment"]
print(e["primary_region"], e["secondary_region"])' "$file") || die "cannot read the regions of $file"
    regions+=("${env_regions[@]}")
    out="$work/regional-$env.json"
    "$CARGO" run --quiet --bin tandem -- template --env "$env" >"$out" ||
        die "tandem template --env $env failed"
    sum=$(sha256sum "$out" | cut -d' ' -f1)
    if [[ -n "${rendered[$sum]:-}" ]]; then
        say "template --env $env: the same as --env ${rendered[$sum]}"
        continue
    fi
    rendered[$sum]=$env
    templates+=("$out")
done
[[ ${#templates[@]} -gt 0 ]] || die "no environment to render (environments/*.toml)"
mapfile -t regions < <(printf '%s\n' "${regions[@]}" | sort -u)
roles="$work/stackset-roles.json"
"$CARGO" run --quiet -p tandem-stack-multi-region --example stackset_roles_template >"$roles" ||
    die "cannot render the stack set's roles template"
templates+=("$roles")

# 3. cfn-lint, then checkov, on each template.
failed=0
for t in "${templates[@]}"; do
    name=$(basename "$t")
    # cfn-lint's exit status is a bit mask: 1 fatal, 2 error, 4 warning, 8 informational.
    set +e
    "$VENV/bin/cfn-lint" --format parseable --regions "${regions[@]}" -- "$t" >"$work/cfn-lint.txt" 2>&1
    rc=$?
    set -e
    errors=$(grep -c ':E[0-9]' "$work/cfn-lint.txt" || true)
    warnings=$(grep -c ':W[0-9]' "$work/cfn-lint.txt" || true)
    say "cfn-lint $CFN_LINT_VERSION on $name (${regions[*]}): $errors error(s), $warnings warning(s)"
    sed "s|^$work/||; s/^/  /" "$work/cfn-lint.txt"
    if ((rc & 3)); then
        say "cfn-lint: FAILED (exit $rc)"
        failed=1
    fi

    set +e
    "$VENV/bin/checkov" --compact --framework cloudformation --output json \
        --file "$t" >"$work/checkov.json" 2>"$work/checkov.err"
    rc=$?
    set -e
    # Exit 1 is "a check failed"; anything else, or no report, is checkov itself failing.
    if ((rc > 1)) || ! "$PY" - "$work/checkov.json" "$name" "$CHECKOV_VERSION" <<'PY'; then
import json
import sys

path, name, version = sys.argv[1:4]
with open(path) as f:
    report = json.load(f)
# One report per framework (a list when there are several).
reports = report if isinstance(report, list) else [report]
results = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
for r in reports:
    if r.get("check_type") not in (None, "cloudformation"):
        continue
    for key in results:
        results[key] += r.get("results", {}).get(key, [])
passed, failed, skipped = (len(results[k]) for k in results)
if passed + failed + skipped == 0:
    sys.exit(f"checkov ran no check on {name}")
print(f"lint_template: checkov {version} on {name}: {passed} passed, {failed} failed, {skipped} skipped")
for c in results["skipped_checks"]:
    reason = (c.get("check_result") or {}).get("suppress_comment", "")
    print(f"  skipped {c['check_id']} on {c['resource']}: {reason}")
for c in results["failed_checks"]:
    print(f"  FAILED {c['check_id']} on {c['resource']}: {c['check_name']}")
PY
        cat "$work/checkov.err" >&2
        say "checkov did not run on $name (exit $rc)"
        exit 2
    fi
    if ((rc == 1)); then
        say "checkov: FAILED"
        failed=1
    fi
done

# 4. The execution role covers what CloudFormation needs for each regional template.
for t in "${templates[@]}"; do
    [[ "$t" == "$roles" ]] && continue
    if ! "$PY" tests/lint_execution_role.py "$t" "$roles"; then
        say "execution role: FAILED"
        failed=1
    fi
done

if ((failed)); then
    say "FAILED"
    exit 1
fi
say "ok"
