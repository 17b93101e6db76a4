# bash completion for fdwatch(8).  Options, subcommands and sort keys are read
# from `fdwatch [SUBCOMMAND] --help`, so they cannot drift from the binary.
# Installed as /usr/share/bash-completion/completions/fdwatch (loaded on
# demand by bash-completion); works when sourced without it too.

# The option names in the Options section of `$1 $2 --help`, one a line.
_fdwatch_help_options() {
  "$1" $2 --help 2>/dev/null | awk '
    /^[A-Za-z]/ { in_opts = ($0 ~ /^Options:/) }
    in_opts && /^  +-/ { n = split($1, names, ","); for (i = 1; i <= n; i++) print names[i] }'
}

# The subcommands listed by `$1 --help`.
_fdwatch_subcommands() {
  "$1" --help 2>/dev/null | awk '
    /^[A-Za-z]/ { in_sub = ($0 ~ /^Subcommands:/); next }
    in_sub && /^  +[a-z]/ { print $1 }'
}

# The sort keys listed in the help of `top --sort`.
_fdwatch_sort_keys() {
  "$1" top --help 2>/dev/null | sed -n 's/.*Sort column: *//p'
}

# Running pids starting with $1.  Several matches are offered as "PID COMM"
# so the list shows what each is; a single match is just the pid.
_fdwatch_pids() {
  local cur=$1 d pid comm
  local -a hits=()
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $pid == "$cur"* ]] || continue
    { read -r comm <"$d/comm"; } 2>/dev/null || continue
    hits+=("$pid $comm")
  done
  if ((${#hits[@]} == 1)); then
    COMPREPLY=("${hits[0]%% *}")
  else
    COMPREPLY=("${hits[@]}")
  fi
}

# cgroup v2 directories for --cgroup, relative to the cgroup v2 mount (or
# absolute when $1 starts with /).
_fdwatch_cgroups() {
  local cur=$1 mnt d
  local -a out=()
  mnt=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } } }' \
    /proc/self/mountinfo 2>/dev/null)
  [[ -n $mnt ]] || return 0
  local IFS=$'\n'
  if [[ $cur == /* ]]; then
    for d in $(compgen -d -- "$cur"); do out+=("$d/"); done
  else
    for d in $(compgen -d -- "$mnt/$cur"); do out+=("${d#"$mnt"/}/"); done
  fi
  COMPREPLY=("${out[@]}")
  compopt -o nospace 2>/dev/null
}

_fdwatch_files() {  # $1: cur, $2: extended glob of wanted names, or ""
  local IFS=$'\n' f
  local -a out=()
  for f in $(compgen -d -- "$1"); do out+=("$f/"); done
  for f in $(compgen -f -- "$1"); do
    [[ -d $f ]] && continue
    [[ -z $2 || $f == $2 ]] && out+=("$f")
  done
  COMPREPLY=("${out[@]}")
  compopt -o nospace -o filenames 2>/dev/null
}

_fdwatch() {
  local cmd=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # After "--" comes the command to trace: complete it as bash would.
  local i sub="" subs
  subs=$(_fdwatch_subcommands "$cmd")
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ ${COMP_WORDS[i]} == -- ]]; then
      if declare -F _command_offset >/dev/null; then
        _command_offset $((i + 1))
      else
        COMPREPLY=($(compgen -c -- "$cur"))
      fi
      return 0
    fi
    [[ -z $sub ]] && grep -qxF -- "${COMP_WORDS[i]}" <<<"$subs" && sub=${COMP_WORDS[i]}
  done

  case $prev in
    -p | --pid)
      _fdwatch_pids "$cur"
      return 0 ;;
    -s | --sort)
      COMPREPLY=($(compgen -W "$(_fdwatch_sort_keys "$cmd")" -- "$cur"))
      return 0 ;;
    -o | --output | --html)
      _fdwatch_files "$cur" ""
      return 0 ;;
    --cgroup)
      _fdwatch_cgroups "$cur"
      return 0 ;;
    --trigger)
      COMPREPLY=($(compgen -W "emfile pct:" -- "$cur"))
      return 0 ;;
    -d | --duration | -i | --interval | -n | --iterations | --delay | --rows | -w | --width | \
      --stack-bytes | --max-size | --keep | --ring | --until)
      return 0 ;;  # a number or a duration: nothing to offer
  esac

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_fdwatch_help_options "$cmd" "$sub")" -- "$cur"))
    return 0
  fi
  case $sub in
    report)
      _fdwatch_files "$cur" "*@(.jsonl|.zst|.jsonl.+([0-9]))" ;;
    "")
      COMPREPLY=($(compgen -W "$subs" -- "$cur")) ;;
  esac
  return 0
}

complete -F _fdwatch fdwatch
