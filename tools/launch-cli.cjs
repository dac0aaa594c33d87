// Runs a workspace package's command-line tool for its bin/ launcher (what `npx task-detection` and the other bins
// run in this repository): rebuilds dist/cli.cjs first when it is missing or older than any workspace source
// (tools/build.mjs), then runs it in this process, so the command works right after `npm ci` and always runs the
// current sources. A package installed from npm has no tools/ beside it: its launcher runs dist/cli.cjs directly.
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');

/** @param {string} pkgDir the package's directory (the one holding src/cli.ts and dist/). */
module.exports = function launchCli(pkgDir) {
  import(pathToFileURL(path.join(__dirname, 'build.mjs')).href)
    .then((tools) => tools.ensureCli(pkgDir))
    .then(
      // The bundle runs its command on load, from process.argv: the launcher's own arguments.
      (cli) => require(cli),
      (e) => {
        console.error(`could not build ${path.join(pkgDir, 'dist', 'cli.cjs')}: ${e.message}`);
        process.exit(1);
      },
    );
};
