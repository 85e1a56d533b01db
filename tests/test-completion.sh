#!/bin/bash
# The generated bash completion (cli/banger-docgen): it loads, completes
# command words, options and option values from banger's command table, asks
# banger for names where a command takes one, and never hangs doing so.
set -u
script=$BANGER_DOCS_DIR/banger.bash
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

fail () { echo "FAIL: $*"; status=1; }

# The completion as bash loads it; print COMPREPLY, one word a line, for the
# words given (the last one is the word being completed).
complete_words () {
  bash --norc --noprofile -c '
    source "$1" || exit 1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    _banger
    (( ${#COMPREPLY[@]} == 0 )) || printf "%s\n" "${COMPREPLY[@]}"' complete "$script" "$@"
}

# expect "WORDS..." -- "EXPECTED..." : COMPREPLY is exactly EXPECTED (sorted).
expect () {
  local -a words=() want=()
  while [ "$1" != -- ]; do words+=("$1"); shift; done
  shift
  want=("$@")
  got=$(complete_words "${words[@]}" | sort | tr '\n' ' ')
  exp=$(printf '%s\n' "${want[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
  [ "$got" = "$exp" ] || fail "completing '${words[*]}': got '$got', want '$exp'"
}

# expect_has "WORDS..." -- WORD...: COMPREPLY contains each WORD.
expect_has () {
  local -a words=()
  while [ "$1" != -- ]; do words+=("$1"); shift; done
  shift
  got=$(complete_words "${words[@]}")
  for w in "$@"; do
    grep -qxF -- "$w" <<< "$got" || fail "completing '${words[*]}': no '$w' in: $(echo $got)"
  done
}

[ -f "$script" ] || { echo "no $script (build the banger-docs target)"; exit 1; }
bash -n "$script" || fail "syntax error in $script"
out=$(bash --norc --noprofile -c 'source "$1" && complete -p banger' sh "$script")
[ "$out" = "complete -F _banger banger" ] || fail "complete -p banger: '$out'"

# Command words, several to a command.
expect banger vm cr -- create
expect banger image cache '' -- list prune
expect banger con -- config
expect_has banger '' -- version doctor config daemon kernel image vm
expect_has banger image '' -- register pull cache list show delete promote
expect banger vm frobnicate '' --
# Global options before the command, with their values, are skipped.
expect banger --local -c /etc/hostname vm cr -- create
expect banger --config=/etc/hostname vm cr -- create

# Options: the command's own, then the global ones.
expect banger vm create --i -- --image
expect_has banger vm exec - -- -e --env --timeout --no-stdin --local --json --help
expect banger vm delete --f -- --force
expect banger --lo -- --local
# Every command of `banger --help` completes, and its --help options too.
"$BANGER_CLI" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \(.*[^ ]\)  .*/\1/p' |
  sed 's/ *$//' > "$tmp/commands"
[ -s "$tmp/commands" ] || fail "no commands in banger --help"
while read -r cmd; do
  read -ra words <<< "$cmd"
  last=${words[${#words[@]}-1]}
  got=$(complete_words banger "${words[@]:0:${#words[@]}-1}" "$last")
  grep -qxF -- "$last" <<< "$got" || fail "'banger $cmd' does not complete its last word"
  # shellcheck disable=SC2086
  for opt in $("$BANGER_CLI" $cmd --help | grep -oE '^  (-[a-zA-Z], )?--[a-z][a-z-]*' |
               sed 's/.*--/--/'); do
    got=$(complete_words banger "${words[@]}" "$opt")
    grep -qxF -- "$opt" <<< "$got" || fail "'banger $cmd $opt' does not complete"
  done
done < "$tmp/commands"

# Option values: files, directories, nothing for free text.
mkdir "$tmp/dir" && touch "$tmp/file.deb"
expect banger kernel import --deb "$tmp/fi" -- "$tmp/file.deb"
expect banger kernel import --deb = "$tmp/fi" -- "$tmp/file.deb"
expect banger kernel import --modules "$tmp/" -- "$tmp/dir"
expect banger vm create --memory '' --

# Names come from `banger --json KIND list` (with the global options given).
cat > "$tmp/banger" <<'EOF'
#!/bin/sh
echo "$*" >> "${0%/*}/calls"
case "$*" in
  *"vm list"*) printf '[\n{\n  "name" : "dev",\n  "disk" : {\n    "name" : "inner"\n  }\n},\n{\n  "name" : "web-1"\n}\n]\n' ;;
  *"kernel list --available"*) printf '[\n{\n  "name" : "debian-cloud"\n}\n]\n' ;;
  *"kernel list"*) printf '[\n{\n  "name" : "k1"\n}\n]\n' ;;
  *"image list"*) exec sleep 30 ;;
esac
EOF
chmod +x "$tmp/banger"
expect "$tmp/banger" vm show '' -- dev web-1
expect "$tmp/banger" vm exec w -- web-1
expect "$tmp/banger" vm exec dev '' --
expect "$tmp/banger" kernel pull '' -- debian-cloud
expect "$tmp/banger" kernel import '' --
expect "$tmp/banger" image pull x --kernel-ref '' -- k1
expect "$tmp/banger" --system vm stop '' -- dev web-1
grep -qx -- '--system --json vm list' "$tmp/calls" || fail "--system not passed on: $(cat "$tmp/calls")"
# A banger that does not answer (bangerd starting, or stuck) costs at most
# a couple of seconds, and offers nothing.
start=$(date +%s)
expect "$tmp/banger" vm create --image '' --
[ $(( $(date +%s) - start )) -le 5 ] || fail "completion waited $(( $(date +%s) - start )) s for banger"
# No banger in PATH: nothing, at once.
expect banger-not-installed vm show '' --

[ $status -eq 0 ] && echo "ok: completion loads and completes commands, options, values and names"
exit $status
