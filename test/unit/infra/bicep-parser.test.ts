// The structure checker must itself catch mistakes, or the template tests prove nothing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  armGuid,
  checkBicepFile,
  checkBicepTree,
  declaration,
  evaluateLiteral,
  loadBicep,
  objectKeysOf,
  parseBicep,
} from '../../support/bicep.js';

function problemsOf(text: string): string[] {
  return checkBicepFile(parseBicep(text, 'inline.bicep')).map((p) => `${p.line}: ${p.message}`);
}

const workDir = mkdtempSync(join(tmpdir(), 'bicep-parser-'));
let treeCounter = 0;

/** Writes a small template tree into a fresh directory and returns it. */
function tree(files: Record<string, string>): string {
  const dir = join(workDir, `tree-${++treeCounter}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const STORAGE = "'Microsoft.Storage/storageAccounts@2023-05-01'";

describe('bicep structure checker', () => {
  it('accepts well-formed declarations, loops, lambdas, interpolation and multi-line strings', () => {
    const text = [
      "targetScope = 'resourceGroup'",
      "@description('names')",
      '@allowed([',
      "  'a'",
      "  'b'",
      '])',
      "param mode string = 'a'",
      'param names array = []',
      "var doc = '''",
      "it's {not} code",
      "'''",
      "var kept = filter(names, n => n != '')",
      `resource accounts ${STORAGE} = [`,
      "  for (n, i) in kept: if (mode == 'a') {",
      "    name: '${n}${i}${length(doc)}'",
      '    location: resourceGroup().location',
      '  }',
      ']',
      'output ids array = [for (n, i) in kept: accounts[i].id]',
    ].join('\n');
    expect(problemsOf(text)).toEqual([]);
  });

  it('reports an unclosed brace at the line that opened it', () => {
    expect(problemsOf('param a string\nvar b = {\n  x: a\n')).toEqual([
      "2: unbalanced '{' opened here is never closed",
    ]);
  });

  it('reports a bracket closed by the wrong kind', () => {
    expect(problemsOf('param a string\nvar b = [ a )\noutput o array = b\n')).toEqual([
      "2: unbalanced ')': expected ']' to close '[' opened at line 2",
    ]);
  });

  it('ignores brackets inside strings and comments', () => {
    expect(problemsOf("// {\n/* [ */\nvar a = '{['\noutput o string = a\n")).toEqual([]);
  });

  it('requires an api version on every resource type', () => {
    expect(problemsOf("resource s 'Microsoft.Storage/storageAccounts' = {\n  name: 'x'\n}\n")).toEqual([
      "1: resource 's': type 'Microsoft.Storage/storageAccounts' needs '@<api-version>' (found '')",
    ]);
    expect(problemsOf("resource s 'Microsoft.Storage/storageAccounts@2023-5' = {\n  name: 'x'\n}\n")).toEqual([
      "1: resource 's': type 'Microsoft.Storage/storageAccounts' needs '@<api-version>' (found '2023-5')",
    ]);
  });

  it('requires a name on every resource', () => {
    expect(problemsOf(`resource s ${STORAGE} = {\n  location: 'x'\n}\n`)).toEqual(["1: resource 's' has no name"]);
  });

  it('rejects malformed param, var and output declarations', () => {
    expect(problemsOf('param string a\n')).toEqual(["1: unknown type 'a'"]);
    expect(problemsOf("param a string 'oops'\n")).toEqual(["1: unexpected string 'oops' after the declaration"]);
    expect(problemsOf("var = 'x'\n")).toEqual(["1: expected a variable name, found '='"]);
    expect(problemsOf("output o = 'x'\n")).toEqual(["1: expected a type, found '='"]);
  });

  it('reports symbols and functions that do not exist', () => {
    expect(problemsOf('var a = b\noutput o string = a\n')).toEqual(["1: unknown symbol 'b'"]);
    expect(problemsOf('param p string\noutput o string = toLowr(p)\n')).toEqual(["2: unknown function 'toLowr'"]);
    expect(problemsOf("var a = 'x${nope}'\noutput o string = a\n")).toEqual(["1: unknown symbol 'nope'"]);
  });

  it('does not let a loop variable escape its loop', () => {
    const text = `param xs array\nresource r ${STORAGE} = [for x in xs: {\n  name: x\n}]\noutput o string = x\n`;
    expect(problemsOf(text)).toEqual(["5: unknown symbol 'x'"]);
  });

  it('reports duplicate symbols and duplicate object properties', () => {
    expect(problemsOf("param a string\nvar a = 'x'\noutput o string = a\n")).toEqual([
      "2: duplicate symbol 'a' (also declared at line 1)",
    ]);
    expect(problemsOf('var a = {\n  x: 1\n  x: 2\n}\noutput o object = a\n')).toEqual(["3: duplicate property 'x'"]);
  });

  it('reports parameters and variables that are never used', () => {
    expect(problemsOf("param a string\nparam b string\nvar c = 'x'\noutput o string = a\n")).toEqual([
      "2: parameter 'b' is never used",
      "3: variable 'c' is never used",
    ]);
  });

  it('checks parameter defaults against their type and decorators', () => {
    expect(problemsOf("param a int = 'x'\noutput o int = a\n")).toEqual([
      "1: default of parameter 'a' is string, declared int",
    ]);
    expect(problemsOf("@allowed([\n  'x'\n])\nparam a string = 'y'\noutput o string = a\n")).toEqual([
      "1: default of parameter 'a' is not in @allowed",
    ]);
    expect(problemsOf('@maxValue(3)\nparam a int = 4\noutput o int = a\n')).toEqual([
      "1: default of parameter 'a' is above @maxValue",
    ]);
  });

  it('checks module paths, parameters and scopes', () => {
    const dir = tree({
      'main.bicep': [
        "module ok 'modules/rg.bicep' = {",
        "  name: 'ok'",
        '  params: {',
        "    required: 'x'",
        '  }',
        '}',
        "module missingFile 'modules/nope.bicep' = {",
        "  name: 'm'",
        '}',
        "module unknownParam 'modules/rg.bicep' = {",
        "  name: 'u'",
        '  params: {',
        "    required: 'x'",
        "    extra: 'y'",
        '  }',
        '}',
        "module missingParam 'modules/rg.bicep' = {",
        "  name: 'p'",
        '}',
        "module wrongScope 'modules/sub.bicep' = {",
        "  name: 's'",
        "  scope: resourceGroup('rg')",
        '}',
      ].join('\n'),
      'modules/rg.bicep':
        "param required string\nparam optional string = 'o'\noutput o string = '${required}${optional}'\n",
      'modules/sub.bicep': "targetScope = 'subscription'\noutput o string = subscription().id\n",
    });
    const messages = checkBicepTree(dir, ['main.bicep']).map((p) => p.message);
    expect(messages).toEqual([
      "module 'missingFile': path 'modules/nope.bicep' does not exist",
      "module 'unknownParam': 'modules/rg.bicep' has no parameter 'extra'",
      "module 'missingParam': required parameter 'required' is not passed",
      "module 'wrongScope': targets subscription but is deployed to scope 'resourceGroup('rg')'",
    ]);
  });

  it('reports a template that no root template references', () => {
    const dir = tree({ 'main.bicep': "output o string = 'x'\n", 'modules/orphan.bicep': "output o string = 'y'\n" });
    expect(checkBicepTree(dir, ['main.bicep'])).toEqual([
      { file: join(dir, 'modules/orphan.bicep'), line: 1, message: 'not referenced from any root template' },
    ]);
  });

  it('checks that imported names are exported variables of the imported file', () => {
    const dir = tree({
      'main.bicep': "import { shared, hidden } from 'lib.bicep'\noutput o string = '${shared}${hidden}'\n",
      'lib.bicep': "@export()\nvar shared = 'a'\nvar hidden = 'b'\noutput h string = hidden\n",
    });
    expect(checkBicepTree(dir, ['main.bicep']).map((p) => p.message)).toEqual([
      "'hidden' is not an @export() variable of 'lib.bicep'",
    ]);
  });

  it('evaluates literal variables through imports', () => {
    const dir = tree({
      'main.bicep': "import { table } from 'lib.bicep'\nvar copy = table\noutput o array = copy\n",
      'lib.bicep':
        "@export()\nvar text = '''\nline\n'''\n@export()\nvar table = [\n  {\n    a: 1\n    b: text\n  }\n]\n",
    });
    const main = loadBicep(join(dir, 'main.bicep'));
    expect(evaluateLiteral(main, declaration(main, 'var', 'copy')?.value)).toEqual([{ a: 1, b: 'line\n' }]);
  });

  it('lists the keys an object can have through union, ternaries and variables', () => {
    const file = parseBicep(
      [
        'param on bool',
        "var base = {\n  A: 'a'\n}",
        "var extra = on ? {\n  B: 'b'\n} : {\n  C: 'c'\n}",
        'var all = union(base, extra, {\n  D: 1\n})',
        'output o object = all',
      ].join('\n'),
    );
    const all = declaration(file, 'var', 'all');
    expect([...objectKeysOf(file, all!.value).keys()].sort()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('computes name-based version 5 GUIDs deterministically', () => {
    const a = armGuid('/subscriptions/s', 'x');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(armGuid('/subscriptions/s', 'x')).toBe(a);
    expect(armGuid('/subscriptions/s', 'y')).not.toBe(a);
  });
});
