import { describe, expect, it } from 'vitest';
import {
  ancestorsOf,
  isAncestorOrSelf,
  normalizeId,
  parentOf,
  parseResourceId,
  registryId,
  registryIdOf,
  ResourceIdError,
  sameId,
  secretScope,
  taskId,
} from '../../../src/domain/index.js';

const SUB = '/subscriptions/s1';
const RG = `${SUB}/resourceGroups/rg`;
const REG = `${RG}/providers/Microsoft.ContainerRegistry/registries/myregistry`;
const TASK = `${REG}/tasks/helloworldtask`;
const RA = `${REG}/providers/Microsoft.Authorization/roleAssignments/0000-1`;

describe('parseResourceId', () => {
  it('parses a child resource with its type chain', () => {
    expect(parseResourceId(TASK)).toEqual({
      id: TASK,
      kind: 'resource',
      subscriptionId: 's1',
      resourceGroup: 'rg',
      namespace: 'Microsoft.ContainerRegistry',
      types: ['registries', 'tasks'],
      names: ['myregistry', 'helloworldtask'],
      resourceType: 'Microsoft.ContainerRegistry/registries/tasks',
      name: 'helloworldtask',
      scope: RG,
    });
  });

  it('parses extension resources on their scope', () => {
    expect(parseResourceId(RA)).toMatchObject({
      namespace: 'Microsoft.Authorization',
      resourceType: 'Microsoft.Authorization/roleAssignments',
      name: '0000-1',
      scope: REG,
    });
    expect(parseResourceId('/providers/Microsoft.Authorization/roleDefinitions/g')).toMatchObject({
      kind: 'resource',
      scope: '/',
      name: 'g',
    });
  });

  it('parses the tenant root, subscriptions and resource groups, in any keyword casing', () => {
    expect(parseResourceId('/')).toMatchObject({ kind: 'tenant', id: '/' });
    expect(parseResourceId('/subscriptions/s1/')).toMatchObject({ kind: 'subscription', subscriptionId: 's1' });
    expect(parseResourceId('/SUBSCRIPTIONS/s1/resourcegroups/RG')).toMatchObject({
      kind: 'resourceGroup',
      resourceGroup: 'RG',
    });
  });

  it('names the bad segment', () => {
    expect(() => parseResourceId('subscriptions/s1')).toThrow(ResourceIdError);
    expect(() => parseResourceId(`${SUB}/resourceGroups`)).toThrow(/missing resource group name/);
    expect(() => parseResourceId(`${SUB}/foo/bar`)).toThrow(expect.objectContaining({ segment: 'foo' }));
    expect(() => parseResourceId(`${RG}/providers/Microsoft.ContainerRegistry/registries`)).toThrow(
      expect.objectContaining({ segment: 'registries', message: expect.stringMatching(/has no name/) }),
    );
    expect(() => parseResourceId(`${RG}/providers/notanamespace/x/y`)).toThrow(
      expect.objectContaining({ segment: 'notanamespace' }),
    );
    expect(() => parseResourceId(`${SUB}//resourceGroups/rg`)).toThrow(/empty segment/);
  });
});

describe('comparisons and ancestry', () => {
  it('compares ids case-insensitively and ignores a trailing slash', () => {
    expect(sameId(REG, REG.toLowerCase() + '/')).toBe(true);
    expect(sameId(REG.replace('resourceGroups', 'resourcegroups'), REG)).toBe(true);
    expect(sameId(REG, `${REG}2`)).toBe(false);
    expect(sameId('garbage', 'garbage')).toBe(false);
    expect(normalizeId(REG)).toBe(REG.toLowerCase());
  });

  it('walks parents: child → resource → resource group → subscription → root', () => {
    expect(parentOf(TASK)).toBe(REG);
    expect(parentOf(REG)).toBe(RG);
    expect(parentOf(RG)).toBe(SUB);
    expect(parentOf(SUB)).toBe('/');
    expect(parentOf('/')).toBeUndefined();
    expect(parentOf(RA)).toBe(REG);
    expect(ancestorsOf(TASK)).toEqual([TASK, REG, RG, SUB, '/']);
  });

  it('finds assignments at ancestors, never at siblings or children', () => {
    expect(isAncestorOrSelf(SUB, TASK)).toBe(true);
    expect(isAncestorOrSelf('/', TASK)).toBe(true);
    expect(isAncestorOrSelf(REG.toUpperCase(), REG)).toBe(true);
    expect(isAncestorOrSelf(`${RG}2`, REG)).toBe(false);
    expect(isAncestorOrSelf(`${SUB}/resourceGroups/r`, REG)).toBe(false);
    expect(isAncestorOrSelf(TASK, REG)).toBe(false);
  });
});

describe('builders', () => {
  it('builds registry, task and secret scope ids and finds a task registry', () => {
    const reg = registryId('s1', 'rg', 'myregistry');
    expect(reg).toBe(REG);
    expect(taskId(reg, 'helloworldtask')).toBe(TASK);
    expect(registryIdOf(TASK)).toBe(REG);
    expect(registryIdOf(`${REG}/runs/cf10`)).toBe(REG);
    expect(secretScope(`${RG}/providers/Microsoft.KeyVault/vaults/v`, 'UserName')).toBe(
      `${RG}/providers/Microsoft.KeyVault/vaults/v/secrets/UserName`,
    );
  });

  it('refuses ids that are not what the builder needs', () => {
    expect(() => registryIdOf(`${RG}/providers/Microsoft.KeyVault/vaults/v`)).toThrow(/not a container registry/);
    expect(() => taskId(RG, 't')).toThrow(ResourceIdError);
    expect(() => registryId('s1', 'rg', 'a/b')).toThrow(/registry name 'a\/b' is not a name/);
  });
});
