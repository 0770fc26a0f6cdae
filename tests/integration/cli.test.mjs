// Every daemon: --help, --version, one-line errors on bad configuration (naming the file and the
// position), and the demo defaults accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bin } from './harness.mjs';

const daemons = ['imsgw-gateway', 'imsgw-waf', 'imsgw-ims-stub'];
const run = (name, args) => spawnSync(bin(name), args, { encoding: 'utf8', timeout: 20000 });

for (const name of daemons) {
  test(`${name} --help and --version`, () => {
    const help = run(name, ['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: /);
    assert.match(help.stdout, /--config FILE\.json/);
    const version = run(name, ['--version']);
    assert.equal(version.status, 0);
    assert.match(version.stdout, new RegExp(`^${name} \\d+\\.\\d+\\.\\d+`));
  });

  test(`${name} refuses a config file that does not parse, naming file and position`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsgw-cfg-'));
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{\n  "port": 1,\n  oops\n}\n');
    const r = run(name, ['--config', file]);
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`${file.replace(/[.]/g, '\\.')}:3:`));
    fs.writeFileSync(file, '{"no-such-setting": 1}');
    const u = run(name, ['--config', file]);
    assert.notEqual(u.status, 0);
    assert.match(u.stderr, /unknown setting "no-such-setting"/);
    assert.equal(run(name, ['--no-such-flag', 'x']).status === 0, false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('imsgw-gateway: flow-key must be exactly 40 hex digits (issue 9 item 9)', () => {
  const hex = '0123456789abcdef0123456789abcdef01234567';
  for (const bad of [`${hex.slice(0, 38)} 1`, `${hex.slice(0, 39)}g`, `+${hex.slice(1)}`, hex.slice(0, 39)]) {
    const r = spawnSync(bin('imsgw-gateway'), ['--flow-key', bad], { encoding: 'utf8', timeout: 5000 });
    assert.notEqual(r.status, 0, `accepted ${JSON.stringify(bad)}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /flow-key must be exactly 40 hex digits/);
  }
});

test('imsgw-gateway: recovery-port and recovery-url are refused at start unless usable and safe to name to clients', () => {
  const cases = [
    [['--recovery-url', 'ws://127.0.0.1:{port}/sip'], /recovery-url needs recovery-port/],
    [['--recovery-port', '9100', '--listen', '0.0.0.0', '--allow-plain-http', 'true'], /on a wildcard listen address/],
    [['--recovery-port', '9100', '--proxy-protocol-from', '127.0.0.1'], /behind a balancer/],
    [['--recovery-port', '9100', '--trusted-proxies', '127.0.0.1'], /behind a balancer/],
    // a header line break, a stray brace, a quote, an unknown placeholder: nothing to inject
    [['--recovery-port', '9100', '--recovery-url', 'ws://a:{port}/sip\r\nVia: x'], /recovery-url must be a URL/],
    [['--recovery-port', '9100', '--recovery-url', 'ws://a:{port}/sip>'], /recovery-url must be a URL/],
    [['--recovery-port', '9100', '--recovery-url', 'ws://"a":{port}/'], /recovery-url must be a URL/],
    [['--recovery-port', '9100', '--recovery-url', 'ws://{host}:{port}/'], /recovery-url must be a URL/],
    [['--recovery-port', '9100', '--recovery-url', `wss://${'a'.repeat(250)}:{port}/`], /recovery-url must be a URL/],
    [['--recovery-port', '9100', '--recovery-url', 'https://a:{port}/sip'], /must start with ws:\/\/ or wss:\/\//],
    [['--recovery-port', '9100', '--workers', '2', '--recovery-url', 'wss://gw.example.com/sip'], /needs \{port\} or \{worker\}/],
    [['--recovery-port', '65535', '--workers', '2'], /recovery-port needs room for 1 more/],
    [['--recovery-port', '9100', '--port', '9101', '--workers', '2'], /port 9101 is among the 2 recovery ports/],
  ];
  for (const [args, why] of cases) {
    const r = run('imsgw-gateway', args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, why);
  }
});
