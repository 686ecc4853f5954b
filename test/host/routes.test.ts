import { describe, expect, it } from 'vitest';
import { RouteTemplateError, compareRoutes, compileRoute } from '../../local/host/routes.js';

describe('route templates', () => {
  it('matches literal segments case-insensitively and returns decoded parameters', () => {
    const route = compileRoute('products/{category}/{id}');
    expect(route.match('/Products/Hats%20%26%20Caps/42')).toEqual({ category: 'Hats & Caps', id: '42' });
    expect(route.match('/products/hats')).toBeUndefined();
    expect(route.match('/products/hats/42/extra')).toBeUndefined();
  });

  it('accepts a trailing slash and an empty template', () => {
    expect(compileRoute('health').match('/health/')).toEqual({});
    expect(compileRoute('').match('')).toEqual({});
    expect(compileRoute('').match('/x')).toBeUndefined();
  });

  it('enforces int, guid, alpha, bool and length constraints', () => {
    const int = compileRoute('items/{id:int}');
    expect(int.match('/items/-17')).toEqual({ id: '-17' });
    expect(int.match('/items/abc')).toBeUndefined();
    expect(int.match('/items/2147483648')).toBeUndefined();
    const guid = compileRoute('things/{id:guid}');
    expect(guid.match('/things/6f9619ff-8b86-d011-b42d-00c04fc964ff')).toEqual({
      id: '6f9619ff-8b86-d011-b42d-00c04fc964ff',
    });
    expect(guid.match('/things/not-a-guid')).toBeUndefined();
    expect(compileRoute('{name:alpha}').match('/abc1')).toBeUndefined();
    expect(compileRoute('{flag:bool}').match('/TRUE')).toEqual({ flag: 'TRUE' });
    const len = compileRoute('{code:minlength(2):maxlength(3)}');
    expect(len.match('/a')).toBeUndefined();
    expect(len.match('/abc')).toEqual({ code: 'abc' });
    expect(len.match('/abcd')).toBeUndefined();
    expect(compileRoute('{n:range(1,5)}').match('/6')).toBeUndefined();
  });

  it('reads regex constraints with escaped braces and parentheses', () => {
    const route = compileRoute('codes/{code:regex(^[a-z]{{3}}(-\\d+)?$)}');
    expect(route.match('/codes/abc-12')).toEqual({ code: 'abc-12' });
    expect(route.match('/codes/abcd')).toBeUndefined();
  });

  it('supports an optional last parameter, a default value and a catch-all', () => {
    const optional = compileRoute('echo/{name}/{id:int?}');
    expect(optional.match('/echo/bob')).toEqual({ name: 'bob' });
    expect(optional.match('/echo/bob/7')).toEqual({ name: 'bob', id: '7' });
    expect(optional.match('/echo/bob/x')).toBeUndefined();
    expect(compileRoute('page/{n=1}').match('/page')).toEqual({ n: '1' });
    expect(compileRoute('files/{*path}').match('/files/a/b%20c/d.txt')).toEqual({ path: 'a/b c/d.txt' });
  });

  it('orders literal segments before parameters and constrained before free parameters', () => {
    const routes = ['items/{id}', 'items/special', 'items/{id:int}', 'items/{*rest}'].map(compileRoute);
    expect(routes.sort(compareRoutes).map((r) => r.template)).toEqual([
      'items/special',
      'items/{id:int}',
      'items/{id}',
      'items/{*rest}',
    ]);
  });

  it('rejects templates the Functions host rejects, naming the problem', () => {
    expect(() => compileRoute('a/{id:number}')).toThrow(RouteTemplateError);
    expect(() => compileRoute('a/{id:number}')).toThrow("unknown route constraint 'number'");
    expect(() => compileRoute('{id?}/b')).toThrow("optional parameter 'id' must be the whole last segment");
    expect(() => compileRoute('{id}/{ID}')).toThrow("parameter 'ID' appears twice");
    expect(() => compileRoute('a/{id')).toThrow("unclosed '{'");
  });
});
