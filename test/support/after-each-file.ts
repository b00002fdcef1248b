// Runs in every test file (jest setupFilesAfterEnv): process-wide resources that a test file's code
// may have started in passing are ended with the file, so none outlives it in the jest worker (which
// runs later files in the same process). The probes' fold pool starts its worker threads on first
// use and keeps them for the process (src/probes/fold-pool.ts); each test file has its own module
// registry, so without this every file that fits a large ridge would leave its threads behind.
import { closeFoldPool } from '../../src/probes/fold-pool.ts';

afterAll(() => closeFoldPool());
