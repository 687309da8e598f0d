// adapters/_path.ts against what node:path's posix functions return (the expected values were taken from Node 20).
import { assertEquals, test } from '../_harness.ts';
import { basenamePath, dirnamePath, joinPath } from '../../adapters/_path.ts';

const JOINS: [string[], string][] = [
  [['a', 'b'], 'a/b'],
  [['/etc/acme', 'privkey.pem'], '/etc/acme/privkey.pem'],
  [['certs/', 'cert.pem'], 'certs/cert.pem'],
  [['./certs', 'cert.pem'], 'certs/cert.pem'],
  [['a//b', './c'], 'a/b/c'],
  [['/etc/ssl/acme/private/privkey.pem', '..'], '/etc/ssl/acme/private'],
  [['a/', 'b/'], 'a/b/'],
  [['a', '..'], '.'],
  [['a', '..', '..'], '..'],
  [['a', '../..', 'b'], '../b'],
  [['../a', 'b'], '../a/b'],
  [['/', '..'], '/'],
  [['/a/b', '../../..', 'c'], '/c'],
  [['', ''], '.'],
  [['./'], './'],
  [['//x//'], '/x/'],
  [['..', ''], '..'],
];

const DIRNAMES: [string, string][] = [
  ['/a/b', '/a'], ['/a/b/', '/a'], ['a', '.'], ['a/', '.'], ['/', '/'], ['/a', '/'], ['a/b//', 'a'], ['', '.'], ['..', '.'], ['/a//b', '/a/'],
  ['/etc/acme/privkey.pem', '/etc/acme'],
];

const BASENAMES: [string, string][] = [['/a/b', 'b'], ['/a/b/', 'b'], ['a', 'a'], ['/', ''], ['', ''], ['/etc/acme/privkey.pem', 'privkey.pem']];

test('joinPath: as path.posix.join', () => {
  for (const [segments, expected] of JOINS) assertEquals(joinPath(...segments), expected, JSON.stringify(segments));
});

test('dirnamePath and basenamePath: as path.posix.dirname and basename', () => {
  for (const [path, expected] of DIRNAMES) assertEquals(dirnamePath(path), expected, `dirname ${JSON.stringify(path)}`);
  for (const [path, expected] of BASENAMES) assertEquals(basenamePath(path), expected, `basename ${JSON.stringify(path)}`);
});
