#!/usr/bin/env bash
# Places Elasticsearch's YAML REST tests where bench/conformance.py looks for them
# (bench/.conformance-tests/, ignored by git: the tests are Elastic's, not ours).
#
#   bench/fetch_conformance_tests.sh clients GIT_DIR_OR_CLONE
#       the tests/ folder of elastic/elasticsearch-clients-tests (a clone or a bare git directory)
#   bench/fetch_conformance_tests.sh elasticsearch GIT_DIR_OR_CLONE
#       the files of elastic/elasticsearch listed in bench/conformance_es_paths.txt, each at its
#       commit when the clone has it (else at HEAD); a partial clone is enough:
#         git clone --filter=blob:none --no-checkout <elastic/elasticsearch> es
set -euo pipefail
kind=${1:?clients or elasticsearch}
repo=${2:?a clone or git directory}
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/.conformance-tests/$kind"
rm -rf "$dest" && mkdir -p "$dest"
case $kind in
  clients)
    git -C "$repo" archive HEAD tests | tar -x -C "$dest" --strip-components=1
    echo "elastic/elasticsearch-clients-tests@$(git -C "$repo" rev-parse HEAD) tests/" >"$dest/ORIGIN" ;;
  elasticsearch)
    grep -v '^#' "$here/conformance_es_paths.txt" | while read -r path commit; do
      [ -n "$path" ] || continue
      target="$dest/$(basename "$(dirname "$path")")/$(basename "$path")"
      mkdir -p "$(dirname "$target")"
      git -C "$repo" show "${commit:-HEAD}:$path" >"$target" 2>/dev/null \
        || git -C "$repo" show "HEAD:$path" >"$target"
    done
    echo "elastic/elasticsearch (bench/conformance_es_paths.txt)" >"$dest/ORIGIN" ;;
  *) echo "unknown kind $kind" >&2; exit 2 ;;
esac
find "$dest" -name '*.yml' | wc -l | xargs echo "placed tests:"
