# Kernel cases for the monitor and the exception reports (sourced by tools/kernel-tests.sh).

check_bad_input() {
  expect "^crash: unknown kind 'foo'"
  expect '^exit: code must be 0\.\.127'
  expect '^kfree: kfree\(NULL\) does nothing'
  expect '^monitor: boot-script command longer than 255 characters skipped'
  expect_not "^unknown command '0+'" "the tail of an overlong command must not run"
  expect '^monitor: too many arguments'
  expect '^touch: bad number'
}
check_crash_de() { expect 'CPU exception 0: divide error'; }
check_write_to_text() {
  expect 'CR2 0x00101000: write, protection violation'
  expect 'address region: kernel image: code or read-only data'
}

long=$(printf '0%.0s' $(seq 300))
run_case monitor-bad-input 64M 60 0 \
  "crash foo; exit 300; kfree 0; echo $long; a b c d e f g h i j k l m n o p q; touch 12q; exit 0" check_bad_input
run_case crash-divide-error 64M 60 126 "crash de" check_crash_de
run_case write-kernel-text 64M 60 126 "touch 0x101000 w" check_write_to_text
