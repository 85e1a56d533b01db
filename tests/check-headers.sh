#!/bin/sh
# Every public header compiles on its own, in strict C11, with no warnings:
# banger.h as a user includes it, and each sub-header as banger.h would.
set -eu
cc=$1
srcinc=$2
bininc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I$srcinc -I$bininc $(pkg-config --cflags gio-2.0)"
status=0
for h in "$srcinc"/banger/*.h "$bininc"/banger/*.h; do
  name=$(basename "$h")
  if [ "$name" = banger.h ]; then
    printf '#include <banger/banger.h>\n' > "$tmp/t.c"
  else
    printf '#define __BANGER_H_INSIDE__\n#include <banger/%s>\n' "$name" > "$tmp/t.c"
  fi
  if ! $cc $flags "$tmp/t.c" 2> "$tmp/err"; then
    echo "FAIL $name"; cat "$tmp/err"; status=1
  else
    echo "ok   $name"
  fi
done
# Including a sub-header directly must be refused.
printf '#include <banger/bgr-client.h>\n' > "$tmp/t.c"
if $cc $flags "$tmp/t.c" 2>/dev/null; then
  echo "FAIL bgr-client.h can be included directly"; status=1
fi
exit $status
