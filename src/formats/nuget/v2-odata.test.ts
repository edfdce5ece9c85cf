import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WharfError } from '../../core/errors.ts';
import { comparator, evaluate, parseCount, parseFilter, parseOrderBy, stringParam } from './v2-odata.ts';

const row = { Id: 'Contoso.Hello', Version: '1.10.0', IsLatestVersion: true, IsAbsoluteLatestVersion: false, IsPrerelease: false, Summary: null, DownloadCount: 5 };
const holds = (f: string) => evaluate(parseFilter(f), row);
const refused = (f: () => unknown) => assert.throws(f, (e) => e instanceof WharfError && e.kind === 'Invalid');

test('$filter: what nuget clients send', () => {
  assert.equal(holds('IsLatestVersion'), true);
  assert.equal(holds("tolower(Id) eq 'contoso.hello'"), true);
  assert.equal(holds("Id eq 'contoso.hello'"), false, 'eq on strings is exact, as in OData');
  assert.equal(holds("(tolower(Id) eq 'contoso.hello') and IsAbsoluteLatestVersion"), false);
  assert.equal(holds("not IsPrerelease and substringof('hello', tolower(Id))"), true);
  assert.equal(holds('DownloadCount gt 4 or Summary ne null'), true);
  assert.equal(holds("Summary eq 'x'"), false);
  assert.equal(holds("Id eq 'it''s'"), false);
});

test('$filter: anything outside the grammar or mistyped is Invalid', () => {
  for (const f of ['', 'Id', "Id eq 'x' and", 'Nope', 'Id eq 1', "eval('x')", "tolower(Id, 'x') eq 'y'", 'IsLatestVersion gt true', "Id eq 'open", "Id eq 'x' )", '(((((((((((((((((((((((((((((((((((IsLatestVersion)))))))))))))))))))))))))))))))))))']) {
    refused(() => parseFilter(f));
  }
});

test('$orderby orders versions as versions, ids without case; $top/$skip; string parameters', () => {
  const rows = [{ Id: 'b', Version: '1.10.0' }, { Id: 'A', Version: '1.9.0' }, { Id: 'a', Version: '1.10.0-beta' }];
  assert.deepEqual([...rows].sort(comparator(parseOrderBy('Version desc'))).map((r) => r.Version), ['1.10.0', '1.10.0-beta', '1.9.0']);
  assert.deepEqual([...rows].sort(comparator(parseOrderBy('Id,Version'))).map((r) => `${r.Id}${r.Version}`), ['A1.9.0', 'a1.10.0-beta', 'b1.10.0']);
  refused(() => parseOrderBy('Id; drop'));
  assert.equal(parseCount('$top', '30'), 30);
  assert.equal(parseCount('$top', undefined), undefined);
  refused(() => parseCount('$top', '-1'));
  assert.equal(stringParam("'it''s'"), "it's");
  assert.equal(stringParam("''"), '');
  refused(() => stringParam("'a'b'"));
});
