#!/bin/sh
# The generated manuals (cli/banger-docgen): each renders without a warning,
# banger(1) has every command with its options, bangerd(8) every option of
# bangerd, banger-config(5) every config key.
set -u
export LC_ALL=C.UTF-8
dir=$BANGER_DOCS_DIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

fail () { echo "FAIL: $*"; status=1; }

for tool in man groff; do
  command -v $tool > /dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done

for page in banger.1 bangerd.8 banger-config.5; do
  [ -f "$dir/$page" ] || { fail "no $dir/$page (build the banger-docs target)"; continue; }
  warnings=$(groff -man -ww -z "$dir/$page" 2>&1)
  [ -z "$warnings" ] || fail "groff warns about $page: $warnings"
  warnings=$(MANWIDTH=80 man -l "$dir/$page" 2>&1 > /dev/null)
  [ -z "$warnings" ] || fail "man warns about $page: $warnings"
  # Wide, so that no name is broken across lines.
  MANWIDTH=250 man -l "$dir/$page" 2> /dev/null | col -bx > "$tmp/$page.txt"
  [ -s "$tmp/$page.txt" ] || fail "$page renders empty"
done

# banger(1): each command of `banger --help` has its section ("   banger vm
# create [OPTIONS]"), and each option of `banger CMD --help` is in it.
"$BANGER_CLI" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \(.*[^ ]\)  .*/\1/p' > "$tmp/commands"
[ -s "$tmp/commands" ] || fail "no commands in banger --help"
"$BANGER_CLI" --help | sed -n '/^Global options:/,/^$/p' | grep -oE -- '--[a-z][a-z-]*' | sort -u > "$tmp/globals"
while read -r cmd; do
  awk -v head="   banger $cmd" '
    index($0, head) == 1 && (length($0) == length(head) || substr($0, length(head) + 1, 1) == " ") { on = 1; next }
    on && (/^   banger / || /^[A-Z]/) { exit }
    on { print }' "$tmp/banger.1.txt" > "$tmp/section"
  [ -s "$tmp/section" ] || { fail "banger(1) has no section for 'banger $cmd'"; continue; }
  # shellcheck disable=SC2086
  for opt in $("$BANGER_CLI" $cmd --help | grep -oE '^  (-[a-zA-Z], )?--[a-z][a-z-]*' | sed 's/.*--/--/'); do
    grep -qxF -- "$opt" "$tmp/globals" && continue
    [ "$opt" = --help ] && continue
    grep -qE -- "^ *(-[a-zA-Z], )?$opt([= ]|\$)" "$tmp/section" ||
      fail "banger(1): 'banger $cmd' does not list $opt"
  done
done < "$tmp/commands"
while read -r opt; do
  grep -qE -- "^ *(-[a-zA-Z], )?$opt([= ]|\$)" "$tmp/banger.1.txt" || fail "banger(1) does not list the global option $opt"
done < "$tmp/globals"

# bangerd(8): every option of `bangerd --help`.
for opt in $("$BANGERD" --help | grep -oE '^  (-[a-zA-Z], )?--[a-z][a-z-]*' | sed 's/.*--/--/'); do
  grep -qE -- "^ *(-[a-zA-Z], )?$opt([= ]|\$)" "$tmp/bangerd.8.txt" || fail "bangerd(8) does not list $opt"
done

# banger-config(5): every key `banger config show` prints, with its default.
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state" \
       XDG_CACHE_HOME="$tmp/cache" XDG_RUNTIME_DIR="$tmp/run"
unset BANGER_CONFIG
"$BANGER_CLI" --local config show > "$tmp/config-show" || fail "banger --local config show failed"
n=0
while read -r key value source; do
  n=$((n + 1))
  grep -q "^ *$key — " "$tmp/banger-config.5.txt" || fail "banger-config(5) does not describe $key"
  case $value in
    "$tmp"*|'""') ;; # a directory of this test, or empty
    *) awk -v k="$key" -v v="Default: $value" '
         index($0, k " — ") && $0 ~ "^ *" k " " { on = 1; next }
         on && index($0, v) { found = 1; exit }
         on && /^ *[a-z_]+ — / { exit }
         END { exit !found }' "$tmp/banger-config.5.txt" ||
         fail "banger-config(5): $key's default is not '$value'" ;;
  esac
done <<EOF
$(sed -n '3,$p' "$tmp/config-show")
EOF
[ $n -gt 10 ] || fail "only $n keys in banger config show"

[ $status -eq 0 ] && echo "ok: man pages render cleanly and cover every command, option and key"
exit $status
