// Azure RBAC operation matching: case-insensitive, `*` matches any run of characters (`*/read`,
// `Microsoft.KeyVault/vaults/secrets/*`, `Microsoft.Authorization/*/Write`).

const cache = new Map<string, RegExp>();

function compile(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re === undefined) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 'i');
    // Patterns come from role definitions: a small, bounded set in practice.
    if (cache.size < 10_000) cache.set(pattern, re);
  }
  return re;
}

/** Does a role-definition operation pattern match a concrete operation? */
export function matchesOperation(pattern: string, operation: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*')) return pattern.toLowerCase() === operation.toLowerCase();
  return compile(pattern).test(operation);
}
