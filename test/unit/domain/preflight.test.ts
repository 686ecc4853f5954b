import { describe, expect, it } from 'vitest';
import {
  parseCustomRegistries,
  preflightTask,
  registryId,
  repositoryReadCondition,
  ROLE_IDS,
  secretKey,
  type PreflightInput,
  type Reason,
  type TaskInfo,
} from '../../../src/domain/index.js';
import {
  assignment,
  BASEREGISTRY_ID,
  DAY,
  definitions,
  dockerhubtask,
  DOCKERHUB_SYSTEM_PRINCIPAL,
  helloworldtask,
  MY_ACR_ID,
  mybaseregistry,
  mykeyvault,
  myregistry,
  NOW,
  RG,
  secret,
  SUB,
  VAULT_ID,
  VAULT_URL,
} from './seed.js';

const USERNAME = `${VAULT_URL}/secrets/UserName`;
const PASSWORD = `${VAULT_URL}/secrets/Password`;

function input(task: TaskInfo, over: Partial<PreflightInput> = {}): PreflightInput {
  return {
    task,
    baseImages: task.baseImages.map((b) => b.ref),
    registries: { 'mybaseregistry.azurecr.io': mybaseregistry, 'MyRegistry.azurecr.io': myregistry },
    assignments: [assignment(BASEREGISTRY_ID, 'AcrPull', MY_ACR_ID.principalId)],
    definitions,
    vaults: { [`${VAULT_URL}/`]: mykeyvault() },
    secrets: { [secretKey(USERNAME)]: secret('UserName'), [secretKey(PASSWORD)]: secret('Password') },
    now: NOW,
    warningDays: 30,
    ...over,
  };
}

function only(reasons: Reason[]): Reason {
  expect(reasons).toHaveLength(1);
  return reasons[0] as Reason;
}

describe('preflight: the seed scenario as documented', () => {
  it('finds helloworldtask ready, pulling with its user-assigned identity', () => {
    expect(preflightTask(input(helloworldtask()))).toEqual({
      taskId: helloworldtask().id,
      decision: 'ready',
      reasons: [],
      identity: {
        'mybaseregistry.azurecr.io': { kind: 'user', principalId: MY_ACR_ID.principalId, clientId: MY_ACR_ID.clientId },
      },
    });
  });

  it('finds dockerhubtask ready, reading Docker Hub credentials with its system identity', () => {
    expect(preflightTask(input(dockerhubtask()))).toEqual({
      taskId: dockerhubtask().id,
      decision: 'ready',
      reasons: [],
      identity: { 'docker.io': { kind: 'system', principalId: DOCKERHUB_SYSTEM_PRINCIPAL } },
    });
  });

  it('lets a Docker Hub base without a credential through (public pull), and the own registry in Legacy mode', () => {
    const t = helloworldtask();
    const r = preflightTask(
      input(t, { baseImages: [...t.baseImages.map((b) => b.ref), 'node:15', 'myregistry.azurecr.io/x:1'] }),
    );
    expect(r).toMatchObject({ decision: 'ready', reasons: [] });
  });

  it('matches the credential client id case-insensitively', () => {
    const t = helloworldtask({
      credentials: parseCustomRegistries({
        'mybaseregistry.azurecr.io': { identity: MY_ACR_ID.clientId.toUpperCase() },
      }),
    });
    expect(preflightTask(input(t)).decision).toBe('ready');
  });
});

describe('preflight: pull reasons and their fixes', () => {
  it('MissingPullPermission (Legacy): acrpull on the base registry for the identity principal', () => {
    const r = preflightTask(input(helloworldtask(), { assignments: [] }));
    expect(r.decision).toBe('blocked');
    expect(only(r.reasons)).toEqual({
      code: 'MissingPullPermission',
      severity: 'blocking',
      message:
        `User-assigned identity 'myACRId' (client id ${MY_ACR_ID.clientId}, principal ${MY_ACR_ID.principalId}), ` +
        "used by task 'helloworldtask' (registry myregistry) for mybaseregistry.azurecr.io, cannot pull 'baseimages/node': " +
        "no role assignment on registry 'mybaseregistry' or above grants Microsoft.ContainerRegistry/registries/pull/read " +
        '(0 assignments considered).',
      fix: `az role assignment create --assignee ${MY_ACR_ID.principalId} --scope ${BASEREGISTRY_ID} --role acrpull`,
      remediation: {
        kind: 'roleAssignment',
        scope: BASEREGISTRY_ID,
        principalId: MY_ACR_ID.principalId,
        roleDefinitionGuid: ROLE_IDS.AcrPull,
        roleName: 'AcrPull',
      },
    });
  });

  it('MissingPullPermission (ABAC): AcrPull is not enough; the fix is a conditioned Repository Reader', () => {
    const abac = { ...mybaseregistry, roleAssignmentMode: 'AbacRepositoryPermissions' as const };
    const r = preflightTask(input(helloworldtask(), { registries: { 'mybaseregistry.azurecr.io': abac } }));
    const reason = only(r.reasons);
    expect(reason.message).toMatch(
      /uses ABAC repository permissions, where AcrPull, AcrPush, Owner, Contributor and Reader grant no pull/,
    );
    expect(reason.message).toMatch(/\(1 assignment considered\)/);
    expect(reason.fix).toBe(
      `az role assignment create --assignee ${MY_ACR_ID.principalId} --scope ${BASEREGISTRY_ID} ` +
        `--role "Container Registry Repository Reader" --condition "${repositoryReadCondition('baseimages/node')}" ` +
        '--condition-version 2.0',
    );
    expect(reason.remediation).toMatchObject({
      roleDefinitionGuid: ROLE_IDS.ContainerRegistryRepositoryReader,
      condition: repositoryReadCondition('baseimages/node'),
      conditionVersion: '2.0',
    });
    const granted = input(helloworldtask(), {
      registries: { 'mybaseregistry.azurecr.io': abac },
      assignments: [
        assignment(
          `/subscriptions/${SUB}`,
          'ContainerRegistryRepositoryReader',
          MY_ACR_ID.principalId,
          repositoryReadCondition('baseimages/node'),
        ),
      ],
    });
    expect(preflightTask(granted).decision).toBe('ready');
  });

  it('accepts pull inherited from the resource group', () => {
    const a = assignment(`/subscriptions/${SUB}/resourceGroups/${RG}`, 'AcrPull', MY_ACR_ID.principalId);
    expect(preflightTask(input(helloworldtask(), { assignments: [a] })).decision).toBe('ready');
  });

  it('MissingRegistryCredential: suggests the task own user-assigned identity, else [system], else assigning one', () => {
    const r = preflightTask(input(helloworldtask({ credentials: [] })));
    expect(only(r.reasons)).toEqual({
      code: 'MissingRegistryCredential',
      severity: 'blocking',
      message:
        "Task 'helloworldtask' (registry myregistry) pulls from mybaseregistry.azurecr.io but has no credential for it, so the run cannot log in there.",
      fix: `az acr task credential add --name helloworldtask --registry myregistry --login-server mybaseregistry.azurecr.io --use-identity ${MY_ACR_ID.clientId}`,
    });
    const system = helloworldtask({ credentials: [], identity: { systemPrincipalId: 'p', userAssigned: [] } });
    expect(only(preflightTask(input(system)).reasons).fix).toBe(
      'az acr task credential add --name helloworldtask --registry myregistry --login-server mybaseregistry.azurecr.io --use-identity [system]',
    );
    const none = helloworldtask({ credentials: [], identity: { userAssigned: [] } });
    expect(only(preflightTask(input(none)).reasons).fix).toBe(
      'az acr task identity assign --name helloworldtask --registry myregistry\n' +
        'az acr task credential add --name helloworldtask --registry myregistry --login-server mybaseregistry.azurecr.io --use-identity [system]',
    );
  });

  it('UnknownIdentity: [system] without a system identity offers assigning one or using the attached identity', () => {
    const sys = helloworldtask({
      credentials: parseCustomRegistries({ 'mybaseregistry.azurecr.io': { identity: '[system]' } }),
    });
    expect(only(preflightTask(input(sys)).reasons)).toEqual({
      code: 'UnknownIdentity',
      severity: 'blocking',
      message:
        "The credential of task 'helloworldtask' (registry myregistry) for mybaseregistry.azurecr.io uses [system], but the task has no system-assigned identity.",
      fix:
        '# give the task a system-assigned identity:\n' +
        'az acr task identity assign --name helloworldtask --registry myregistry\n' +
        `# or use the attached identity ${MY_ACR_ID.clientId}:\n` +
        `az acr task credential update --name helloworldtask --registry myregistry --login-server mybaseregistry.azurecr.io --use-identity ${MY_ACR_ID.clientId}`,
    });
  });

  it('UnknownIdentity: a client id the task does not have offers attaching it (named when found) or the attached one', () => {
    const stranger = helloworldtask({
      credentials: parseCustomRegistries({
        'mybaseregistry.azurecr.io': { identity: 'dddddddd-0000-0000-0000-000000000009' },
      }),
    });
    const reason = only(preflightTask(input(stranger)).reasons);
    expect(reason.message).toBe(
      "The credential of task 'helloworldtask' (registry myregistry) for mybaseregistry.azurecr.io uses client id dddddddd-0000-0000-0000-000000000009, which is not a user-assigned identity of the task.",
    );
    expect(reason.fix).toBe(
      '# attach the identity with client id dddddddd-0000-0000-0000-000000000009 to the task:\n' +
        'az acr task identity assign --name helloworldtask --registry myregistry --identities <resource id of the identity with client id dddddddd-0000-0000-0000-000000000009>\n' +
        `# or use the attached identity ${MY_ACR_ID.clientId}:\n` +
        `az acr task credential update --name helloworldtask --registry myregistry --login-server mybaseregistry.azurecr.io --use-identity ${MY_ACR_ID.clientId}`,
    );

    const buildId = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/buildId`;
    const named = only(
      preflightTask(
        input(stranger, {
          identities: [{ resourceId: buildId, clientId: 'DDDDDDDD-0000-0000-0000-000000000009' }],
        }),
      ).reasons,
    );
    expect(named.message).toMatch(
      /not a user-assigned identity of the task \(it is identity 'buildId', .*buildId\)\.$/,
    );
    expect(named.fix?.split('\n').slice(0, 2)).toEqual([
      "# attach identity 'buildId' to the task:",
      `az acr task identity assign --name helloworldtask --registry myregistry --identities ${buildId}`,
    ]);
  });

  it('warns (RegistryNotManaged) about an Azure registry it cannot read, without blocking', () => {
    const r = preflightTask(input(helloworldtask(), { baseImages: ['otherregistry.azurecr.io/x:1'] }));
    expect(r.decision).toBe('ready');
    expect(only(r.reasons)).toMatchObject({ code: 'RegistryNotManaged', severity: 'warning' });
    expect(r.reasons[0]?.fix).toBe(
      'az role assignment create --assignee <acr-cascade principal id> --role Reader --scope $(az acr show --name otherregistry --query id --output tsv)',
    );
  });

  it('warns (SourceRegistryAbac) when the task pulls from its own ABAC registry', () => {
    const own = { ...myregistry, roleAssignmentMode: 'AbacRepositoryPermissions' as const };
    const r = preflightTask(
      input(helloworldtask(), {
        baseImages: ['myregistry.azurecr.io/base:1'],
        registries: { 'myregistry.azurecr.io': own },
      }),
    );
    expect(r.decision).toBe('ready');
    expect(only(r.reasons)).toMatchObject({
      code: 'SourceRegistryAbac',
      severity: 'warning',
      fix: 'az acr task update --name helloworldtask --registry myregistry --source-acr-auth-id [system]',
    });
  });

  it('needs no credential for an anonymous-pull registry, and no RBAC for a user name and password', () => {
    const open = { ...mybaseregistry, anonymousPullEnabled: true };
    expect(
      preflightTask(input(helloworldtask({ credentials: [] }), { registries: { 'mybaseregistry.azurecr.io': open } }))
        .decision,
    ).toBe('ready');
    const token = helloworldtask({
      credentials: parseCustomRegistries({
        'mybaseregistry.azurecr.io': {
          userName: { type: 'Opaque', value: 'tok' },
          password: { type: 'Opaque', value: 'pw' },
        },
      }),
    });
    expect(preflightTask(input(token, { assignments: [] }))).toMatchObject({ decision: 'ready', identity: {} });
  });

  it('TaskDisabled: enable it again', () => {
    const r = preflightTask(input(helloworldtask({ status: 'Disabled' })));
    expect(only(r.reasons)).toEqual({
      code: 'TaskDisabled',
      severity: 'blocking',
      message: "Task 'helloworldtask' (registry myregistry) is disabled, so it cannot run.",
      fix: 'az acr task update --name helloworldtask --registry myregistry --status Enabled',
    });
  });
});

describe('preflight: Key Vault credential reasons and their fixes', () => {
  it('KeyVaultAccessDenied (access policies): set-policy get for the system principal', () => {
    const r = preflightTask(input(dockerhubtask(), { vaults: { [VAULT_URL]: mykeyvault({ accessPolicies: [] }) } }));
    expect(r.decision).toBe('blocked');
    expect(r.reasons.map((x) => x.code)).toEqual(['KeyVaultAccessDenied', 'KeyVaultAccessDenied']);
    expect(r.reasons[0]).toEqual({
      code: 'KeyVaultAccessDenied',
      severity: 'blocking',
      message:
        `The system-assigned identity (principal ${DOCKERHUB_SYSTEM_PRINCIPAL}), used by task 'dockerhubtask' (registry myregistry), ` +
        "cannot read secret 'UserName' in vault 'mykeyvault' (access-policy vault: no policy gives this principal secret get).",
      fix: `az keyvault set-policy --name mykeyvault --object-id ${DOCKERHUB_SYSTEM_PRINCIPAL} --secret-permissions get`,
    });
  });

  it('KeyVaultAccessDenied (RBAC vault): Key Vault Secrets User on the secret', () => {
    const r = preflightTask(
      input(dockerhubtask(), { vaults: { [VAULT_URL]: mykeyvault({ enableRbacAuthorization: true }) } }),
    );
    expect(r.reasons.map((x) => x.fix)).toEqual([
      `az role assignment create --role "Key Vault Secrets User" --assignee ${DOCKERHUB_SYSTEM_PRINCIPAL} --scope ${VAULT_ID}/secrets/UserName`,
      `az role assignment create --role "Key Vault Secrets User" --assignee ${DOCKERHUB_SYSTEM_PRINCIPAL} --scope ${VAULT_ID}/secrets/Password`,
    ]);
    expect(r.reasons[0]?.remediation).toEqual({
      kind: 'roleAssignment',
      scope: `${VAULT_ID}/secrets/UserName`,
      principalId: DOCKERHUB_SYSTEM_PRINCIPAL,
      roleDefinitionGuid: ROLE_IDS.KeyVaultSecretsUser,
      roleName: 'Key Vault Secrets User',
    });
    const granted = input(dockerhubtask(), {
      vaults: { [VAULT_URL]: mykeyvault({ enableRbacAuthorization: true }) },
      assignments: [assignment(VAULT_ID, 'KeyVaultSecretsUser', DOCKERHUB_SYSTEM_PRINCIPAL)],
    });
    expect(preflightTask(granted).decision).toBe('ready');
  });

  it('SecretMissing: set the secret', () => {
    const r = preflightTask(input(dockerhubtask(), { secrets: { [secretKey(USERNAME)]: secret('UserName') } }));
    expect(only(r.reasons)).toEqual({
      code: 'SecretMissing',
      severity: 'blocking',
      message:
        "Secret 'Password' in vault 'mykeyvault' (credential of task 'dockerhubtask' (registry myregistry) for docker.io) does not exist.",
      fix: 'az keyvault secret set --vault-name mykeyvault --name Password --value <value>',
    });
  });

  it('SecretDisabled: enable the version the task reads', () => {
    const off = secret('UserName', { enabled: false });
    const r = preflightTask(
      input(dockerhubtask(), { secrets: { [secretKey(USERNAME)]: off, [secretKey(PASSWORD)]: secret('Password') } }),
    );
    expect(only(r.reasons)).toMatchObject({
      code: 'SecretDisabled',
      severity: 'blocking',
      fix: `az keyvault secret set-attributes --vault-name mykeyvault --name UserName --version ${off.version} --enabled true`,
    });
  });

  it('SecretNotYetValid: move not-before to now', () => {
    const later = secret('Password', { notBefore: NOW + DAY });
    const r = preflightTask(
      input(dockerhubtask(), { secrets: { [secretKey(USERNAME)]: secret('UserName'), [secretKey(PASSWORD)]: later } }),
    );
    expect(only(r.reasons)).toMatchObject({
      code: 'SecretNotYetValid',
      message: expect.stringContaining('is not valid before 2024-01-02T00:00:00Z'),
      fix: `az keyvault secret set-attributes --vault-name mykeyvault --name Password --version ${later.version} --not-before 2024-01-01T00:00:00Z`,
    });
  });

  it('SecretExpired on Docker Hub: renew the access token in Docker Hub, then store it', () => {
    const old = secret('Password', { expiresOn: NOW - 2 * DAY });
    const r = preflightTask(
      input(dockerhubtask(), { secrets: { [secretKey(USERNAME)]: secret('UserName'), [secretKey(PASSWORD)]: old } }),
    );
    expect(only(r.reasons)).toEqual({
      code: 'SecretExpired',
      severity: 'blocking',
      message:
        "Secret 'Password' in vault 'mykeyvault' (credential of task 'dockerhubtask' (registry myregistry) for docker.io) expired on 2023-12-30T00:00:00Z.",
      fix:
        'Create a new Docker Hub personal access token (hub.docker.com → Account settings → Personal access tokens), then:\n' +
        'az keyvault secret set --vault-name mykeyvault --name Password --value <new value> --expires 2024-03-31T00:00:00Z',
    });
  });

  it('SecretExpiring is a warning: the run still goes ahead', () => {
    const soon = secret('UserName', { expiresOn: NOW + 10 * DAY + 60 });
    const r = preflightTask(
      input(dockerhubtask(), { secrets: { [secretKey(USERNAME)]: soon, [secretKey(PASSWORD)]: secret('Password') } }),
    );
    expect(r.decision).toBe('ready');
    expect(only(r.reasons)).toMatchObject({
      code: 'SecretExpiring',
      severity: 'warning',
      message: expect.stringContaining('expires on 2024-01-11T00:01:00Z (10 days left)'),
    });
  });

  it('SecretVersionOutdated: the task pins an older version than the latest enabled one', () => {
    const pinned = `${PASSWORD}/0123456789abcdef0123456789abcdef`;
    const t = dockerhubtask({
      credentials: parseCustomRegistries({
        'docker.io': {
          userName: { type: 'Vaultsecret', value: USERNAME },
          password: { type: 'Vaultsecret', value: pinned },
          identity: '[system]',
        },
      }),
    });
    const r = preflightTask(
      input(t, {
        secrets: {
          [secretKey(USERNAME)]: secret('UserName'),
          [secretKey(pinned)]: secret('Password', { version: '0123456789abcdef0123456789abcdef' }),
        },
        latestVersions: { [secretKey(PASSWORD)]: 'fedcba9876543210fedcba9876543210' },
      }),
    );
    expect(r.decision).toBe('ready');
    expect(only(r.reasons)).toMatchObject({
      code: 'SecretVersionOutdated',
      severity: 'warning',
      fix: `az acr task credential update --name dockerhubtask --registry myregistry --login-server docker.io --password ${PASSWORD}`,
    });
  });

  it('VaultNotFound: the credential points at a vault acr-cascade cannot see', () => {
    const r = preflightTask(input(dockerhubtask(), { vaults: {} }));
    expect(r.reasons.map((x) => x.code)).toEqual(['VaultNotFound', 'VaultNotFound']);
    expect(r.reasons[0]?.fix).toBe('az keyvault show --name mykeyvault --query properties.vaultUri --output tsv');
  });

  it('UnknownIdentity: Key Vault secrets but no identity to read them', () => {
    const t = dockerhubtask({
      credentials: parseCustomRegistries({
        'docker.io': {
          userName: { type: 'Vaultsecret', value: USERNAME },
          password: { type: 'Vaultsecret', value: PASSWORD },
        },
      }),
    });
    expect(only(preflightTask(input(t)).reasons)).toMatchObject({
      code: 'UnknownIdentity',
      fix: 'az acr task credential update --name dockerhubtask --registry myregistry --login-server docker.io --use-identity [system]',
    });
  });

  it('suggests regenerating an ACR token password when the secret is tagged as rotatable', () => {
    const tokenId = `${registryId(SUB, RG, 'mybaseregistry')}/tokens/basepull`;
    const pw = secret('Password', {
      expiresOn: NOW + 5 * DAY,
      tags: { 'cascade.tokenId': tokenId, 'cascade.role': 'password' },
    });
    const t = helloworldtask({
      credentials: parseCustomRegistries({
        'mybaseregistry.azurecr.io': {
          userName: { type: 'Opaque', value: 'basepull' },
          password: { type: 'Vaultsecret', value: PASSWORD },
          identity: MY_ACR_ID.clientId,
        },
      }),
    });
    const r = preflightTask(
      input(t, {
        secrets: { [secretKey(PASSWORD)]: pw },
        vaults: {
          [VAULT_URL]: mykeyvault({ accessPolicies: [{ objectId: MY_ACR_ID.principalId, secrets: ['get'] }] }),
        },
      }),
    );
    expect(only(r.reasons).fix).toBe(
      'az acr token credential generate --name basepull --registry mybaseregistry --password1 --expiration-in-days 90\n' +
        'az keyvault secret set --vault-name mykeyvault --name Password --value <new value> --expires 2024-04-05T00:00:00Z',
    );
  });
});
