#!/usr/bin/env bash
# The clients install the way their users install packages (make test, check-clients), offline:
#  - `pip install ./clients/python` into a fresh venv (Debian's python3 with its python3-setuptools as
#    the build backend: --no-build-isolation --no-index, nothing fetched), then chanx_client and its
#    channel layer import from the venv, outside the checkout;
#  - `npm install ./clients/js` into a fresh prefix, and the tarball `npm pack` makes (what a registry
#    would serve: the package.json "files" list), then `import { ChanxClient } from "chanx-client"`.
# Each part failed before clients/python had a pyproject.toml / would fail on a package that does not
# ship chanx.js. Everything happens in a temporary folder; the checkout is copied, not built in.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/chanx-clients-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-clients: $*" >&2; exit 1; }

# Python: a copy, so setuptools' in-tree build folders land in the scratch folder.
cp -r "$root/clients/python" "$tmp/python"
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install -q --no-index --no-build-isolation --disable-pip-version-check "$tmp/python" \
  >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; fail "pip install ./clients/python failed"; }
where=$(cd / && "$tmp/venv/bin/python" -c 'import chanx_client, chanx_client.layers; print(chanx_client.__file__)') \
  || fail "chanx_client does not import from the venv"
[[ $where == "$tmp/venv/"* ]] || fail "chanx_client imported from $where, not the venv"
"$tmp/venv/bin/pip" show -q chanx-client >/dev/null || fail "pip does not know the installed chanx-client"

# JavaScript: the folder, then the packed tarball.
check_import() {   # PREFIX WHAT
  (cd "$1" && node --input-type=module -e \
    'import { ChanxClient, ChanxError } from "chanx-client"; if (typeof ChanxClient !== "function" || typeof ChanxError !== "function") process.exit(1);') \
    || fail "import { ChanxClient } from \"chanx-client\" fails after $2"
}
cp -r "$root/clients/js" "$tmp/js-src"
rm -rf "$tmp/js-src/node_modules"
mkdir -p "$tmp/js-dir" "$tmp/js-tgz"
(cd "$tmp/js-dir" && npm install --offline --no-audit --no-fund -q "$tmp/js-src" >"$tmp/npm.log" 2>&1) \
  || { cat "$tmp/npm.log" >&2; fail "npm install ./clients/js failed"; }
check_import "$tmp/js-dir" "npm install ./clients/js"
tgz=$(cd "$tmp" && npm pack --silent "$tmp/js-src" 2>/dev/null | tail -1)
(cd "$tmp/js-tgz" && npm install --offline --no-audit --no-fund -q "$tmp/$tgz" >"$tmp/npm.log" 2>&1) \
  || { cat "$tmp/npm.log" >&2; fail "npm install of the packed clients/js ($tgz) failed"; }
check_import "$tmp/js-tgz" "npm install of the packed tarball"
echo "check-clients: pip install ./clients/python and npm install ./clients/js (folder and tarball) work offline"
