/* not_a_driver: a shared object that is not a driver at all: it exports no
 * driver_init (nor any <name>_driver_init). erl_ddll fails with
 * {error, no_driver_init}; drvcheck reports a load error, not a finding.
 */
__attribute__((visibility("default"))) int not_a_driver_answer(void);

__attribute__((visibility("default"))) int not_a_driver_answer(void) {
  return 42;
}
