#!/bin/sh
# Every symbol libbanger exports is in the version map, every symbol in the
# map is exported, and every export carries a BANGER_ version node.
set -eu
lib=$1
map=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ && $3 !~ /^BANGER_/ {print $3}' \
  | sed 's/@.*//' | sort -u > "$tmp/exported"
sed -e 's,/\*.*\*/,,' "$map" | tr -d ' \t' | grep -E '^[a-z_][a-z0-9_]*;$' | tr -d ';' \
  | sort -u > "$tmp/mapped"

status=0
if ! diff -u "$tmp/mapped" "$tmp/exported" > "$tmp/diff"; then
  echo "exported symbols differ from $map (- only in map, + only exported):"
  cat "$tmp/diff"
  status=1
fi
unversioned=$(nm -D --defined-only --with-symbol-versions "$lib" 2>/dev/null \
  | awk '$2 ~ /^[TDBRVW]$/ && $3 !~ /^BANGER_/ && $3 !~ /@@?BANGER_/ {print $3}')
if [ -n "$unversioned" ]; then
  echo "exports without a BANGER_ version node: $unversioned"
  status=1
fi
for s in $(cat "$tmp/exported"); do
  case $s in bgr_*) ;; *) echo "export without bgr_ prefix: $s"; status=1;; esac
done
[ $status -eq 0 ] && echo "ok: $(wc -l < "$tmp/exported") symbols, all in $map"
exit $status
