import base from '/work/wt/suite-time/vitest.config.ts';
import { mergeConfig, defineConfig } from 'vitest/config';
export default mergeConfig(base, defineConfig({ test: { execArgv: ['--cpu-prof', '--cpu-prof-dir=/tmp/st-prof'] } }));
