# Sourced by bin/demo and bin/test: make a virtual environment that matches a requirements file.
# A venv is (re)installed only when it is missing or its requirements file changed since.

require_python() {
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "python3 >= 3.11 is required (found: $(python3 --version 2>&1))" >&2
    exit 1
  fi
}

ensure_venv() {  # ensure_venv DIR REQUIREMENTS_FILE
  local dir=$1 req=$2 want have
  want=$(cat "$req" requirements*.txt 2>/dev/null | sha256sum | cut -c1-16)
  have=$(cat "$dir/.installed" 2>/dev/null || true)
  if [ -x "$dir/bin/python" ] && [ "$want" = "$have" ]; then
    return 0
  fi
  echo "==> installing $req into $dir (first run takes a minute or two)" >&2
  require_python
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" 2>&1 \
    | grep -v -E "^WARNING: Location .* is ignored" >&2 || true
  "$dir/bin/python" -m pip check >/dev/null || { "$dir/bin/python" -m pip check >&2; exit 1; }
  echo "$want" > "$dir/.installed"
}
