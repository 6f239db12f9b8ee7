import { describe, expect, it } from 'vitest';
import { applyPatch, parsePointer, PatchError, type PatchOp } from './json-patch.js';

describe('parsePointer (RFC 6901)', () => {
  it('unescapes ~1 and ~0 in that order', () => {
    expect(parsePointer('')).toEqual([]);
    expect(parsePointer('/a~1b/~0c/~01')).toEqual(['a/b', '~c', '~1']);
    expect(() => parsePointer('a')).toThrow();
  });
});

describe('applyPatch (RFC 6902)', () => {
  // Appendix A examples
  const cases: [string, unknown, PatchOp[], unknown][] = [
    ['A.1 add object member', { foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { foo: 'bar', baz: 'qux' }],
    ['A.2 add array element', { foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }], { foo: ['bar', 'qux', 'baz'] }],
    ['A.3 remove member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    ['A.4 remove element', { foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
    ['A.5 replace', { baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }], { baz: 'boo', foo: 'bar' }],
    ['A.6 move member', { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } }],
    ['A.7 move element', { foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }], { foo: ['all', 'cows', 'eat', 'grass'] }],
    ['A.8 test success', { baz: 'qux', foo: ['a', 2, 'c'] }, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }], { baz: 'qux', foo: ['a', 2, 'c'] }],
    ['A.10 add nested', { foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }], { foo: 'bar', child: { grandchild: {} } }],
    ['A.16 add to end', { foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }], { foo: ['bar', ['abc', 'def']] }],
    ['A.14 ~ escaping', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
    ['copy', { a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: 1 }, c: { b: 1 } }],
    ['replace root', { a: 1 }, [{ op: 'replace', path: '', value: [1] }], [1]],
    ['test deep equality ignores key order', { a: { x: 1, y: [1, { z: null }] } }, [{ op: 'test', path: '/a', value: { y: [1, { z: null }], x: 1 } }], { a: { x: 1, y: [1, { z: null }] } }],
  ];
  for (const [name, doc, ops, want] of cases) {
    it(name, () => {
      const before = JSON.stringify(doc);
      expect(applyPatch(doc, ops)).toEqual(want);
      expect(JSON.stringify(doc)).toBe(before); // input untouched
    });
  }

  const errors: [string, unknown, PatchOp[], 'invalid' | 'test_failed'][] = [
    ['A.9 test failure', { baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }], 'test_failed'],
    ['A.12 add to nonexistent target', { foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }], 'invalid'],
    ['A.15 string is not number', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }], 'test_failed'],
    ['remove missing', { a: 1 }, [{ op: 'remove', path: '/b' }], 'invalid'],
    ['replace missing', { a: 1 }, [{ op: 'replace', path: '/b', value: 2 }], 'invalid'],
    ['index out of range', { a: [1] }, [{ op: 'add', path: '/a/5', value: 2 }], 'invalid'],
    ['leading zero index', { a: [1, 2] }, [{ op: 'remove', path: '/a/01' }], 'invalid'],
    ['move into own child', { a: { b: {} } }, [{ op: 'move', from: '/a', path: '/a/b/c' }], 'invalid'],
    ['test of missing path', { a: 1 }, [{ op: 'test', path: '/zz', value: 1 }], 'test_failed'],
  ];
  for (const [name, doc, ops, kind] of errors) {
    it(`fails: ${name}`, () => {
      let caught: unknown;
      try {
        applyPatch(doc, ops);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PatchError);
      expect((caught as PatchError).kind).toBe(kind);
    });
  }

  it('is atomic: a later failure leaves the input as it was', () => {
    const doc = { a: 1 };
    expect(() => applyPatch(doc, [{ op: 'replace', path: '/a', value: 2 }, { op: 'test', path: '/a', value: 3 }])).toThrow(PatchError);
    expect(doc).toEqual({ a: 1 });
  });
});
