#!/usr/bin/env node
// The `task-detection` command, dist/cli.cjs. In this repository (src/ beside it) the workspace's tools/launch-cli.cjs
// runs it, building it first when it is missing or older than the sources; installed from npm it runs as published.
'use strict';
const path = require('node:path');
const pkg = path.join(__dirname, '..');
if (require('node:fs').existsSync(path.join(pkg, 'src', 'cli.ts'))) {
  require(path.join(pkg, '..', '..', 'tools', 'launch-cli.cjs'))(pkg);
} else {
  require('../dist/cli.cjs');
}
