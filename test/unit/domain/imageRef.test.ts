import { describe, expect, it } from 'vitest';
import {
  formatImageRef,
  imageKey,
  ImageRefError,
  isTemplateTag,
  parseImageRef,
  repositoryKey,
  resolveTaskImageName,
  sameRepository,
  tryParseImageRef,
} from '../../../src/domain/index.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseImageRef', () => {
  it('resolves Docker Hub short names to docker.io/library', () => {
    expect(parseImageRef('node:15')).toEqual({ loginServer: 'docker.io', repository: 'library/node', tag: '15' });
    expect(formatImageRef(parseImageRef('node:15'))).toBe('docker.io/library/node:15');
    expect(formatImageRef(parseImageRef('hubuser/hubrepo:1'))).toBe('docker.io/hubuser/hubrepo:1');
  });

  it('treats index.docker.io and registry.hub.docker.com as docker.io', () => {
    expect(formatImageRef(parseImageRef('index.docker.io/node:15'))).toBe('docker.io/library/node:15');
    expect(formatImageRef(parseImageRef('registry.hub.docker.com/library/hello-world'))).toBe(
      'docker.io/library/hello-world:latest',
    );
  });

  it('defaults the tag to latest only when there is neither tag nor digest', () => {
    expect(parseImageRef('mybaseregistry.azurecr.io/baseimages/node').tag).toBe('latest');
    expect(parseImageRef(`mybaseregistry.azurecr.io/baseimages/node@${D}`)).toEqual({
      loginServer: 'mybaseregistry.azurecr.io',
      repository: 'baseimages/node',
      digest: D,
    });
    expect(parseImageRef(`node:15@${D}`)).toMatchObject({ tag: '15', digest: D });
  });

  it('lower-cases the login server but keeps it apart from the repository', () => {
    expect(parseImageRef('MyBaseRegistry.AzureCR.io/baseimages/node:15-alpine')).toEqual({
      loginServer: 'mybaseregistry.azurecr.io',
      repository: 'baseimages/node',
      tag: '15-alpine',
    });
  });

  it('keeps ports in login servers and does not confuse them with tags', () => {
    expect(parseImageRef('localhost:5000/x')).toEqual({
      loginServer: 'localhost:5000',
      repository: 'x',
      tag: 'latest',
    });
    expect(parseImageRef('127.0.0.1:8443/team/app:v2')).toEqual({
      loginServer: '127.0.0.1:8443',
      repository: 'team/app',
      tag: 'v2',
    });
    expect(parseImageRef('localhost/x:1').loginServer).toBe('localhost');
  });

  it('names the repository when it is not lower-case', () => {
    expect(() => parseImageRef('myregistry.azurecr.io/Hello-World:1')).toThrow(ImageRefError);
    expect(() => parseImageRef('myregistry.azurecr.io/Hello-World:1')).toThrow(
      "invalid image reference 'myregistry.azurecr.io/Hello-World:1': repository 'Hello-World' must be lower-case",
    );
    try {
      parseImageRef('Node:15');
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ name: 'ImageRefError', part: 'repository', input: 'Node:15' });
    }
  });

  it('names the digest, the tag and the login server when they are malformed', () => {
    expect(() => parseImageRef('node@sha256:abc')).toThrow(/digest 'sha256:abc' is not sha256:<64 lower-case hex>/);
    expect(() => parseImageRef(`node@sha256:${'AB'.repeat(32)}`)).toThrow(expect.objectContaining({ part: 'digest' }));
    expect(() => parseImageRef('node:-bad')).toThrow(expect.objectContaining({ part: 'tag' }));
    expect(() => parseImageRef('bad_host.io/x')).toThrow(expect.objectContaining({ part: 'loginServer' }));
    expect(() => parseImageRef('')).toThrow(expect.objectContaining({ part: 'reference' }));
    expect(() => parseImageRef('a b')).toThrow(expect.objectContaining({ part: 'reference' }));
    expect(() => parseImageRef('x.io/a//b')).toThrow(expect.objectContaining({ part: 'repository' }));
  });

  it('rejects template tags unless asked to keep them', () => {
    expect(() => parseImageRef('app:{{.Run.ID}}')).toThrow(expect.objectContaining({ part: 'tag' }));
    expect(parseImageRef('app:{{.Run.ID}}', { allowTemplateTag: true }).tag).toBe('{{.Run.ID}}');
    expect(isTemplateTag('{{.Run.ID}}')).toBe(true);
    expect(isTemplateTag('$ID')).toBe(true);
    expect(isTemplateTag('v1')).toBe(false);
  });

  it('returns undefined from tryParseImageRef instead of throwing', () => {
    expect(tryParseImageRef('Bad:1')).toBeUndefined();
    expect(tryParseImageRef('good:1')).toMatchObject({ tag: '1' });
  });
});

describe('task output names', () => {
  it('resolves names without a registry against the task own login server, keeping template tags', () => {
    expect(resolveTaskImageName('hello-world:{{.Run.ID}}', 'myregistry.azurecr.io')).toBe(
      'myregistry.azurecr.io/hello-world:{{.Run.ID}}',
    );
    expect(resolveTaskImageName('{{.Run.Registry}}/hello-world:{{.Run.ID}}', 'MyRegistry.azurecr.io')).toBe(
      'myregistry.azurecr.io/hello-world:{{.Run.ID}}',
    );
    expect(resolveTaskImageName('$Registry/hello-world:$ID', 'myregistry.azurecr.io')).toBe(
      'myregistry.azurecr.io/hello-world:$ID',
    );
    expect(resolveTaskImageName('docker.io/hubuser/hubrepo:v1', 'myregistry.azurecr.io')).toBe(
      'docker.io/hubuser/hubrepo:v1',
    );
  });
});

describe('keys', () => {
  it('gives graph keys without the digest, and digest keys for digest-only refs', () => {
    expect(imageKey(`node:15@${D}`)).toBe('docker.io/library/node:15');
    expect(imageKey(`x.azurecr.io/app@${D}`)).toBe(`x.azurecr.io/app@${D}`);
    expect(repositoryKey('x.azurecr.io/app:{{.Run.ID}}')).toBe('x.azurecr.io/app');
  });

  it('compares repositories across aliases and tags', () => {
    expect(sameRepository('node:15', 'index.docker.io/library/node:16')).toBe(true);
    expect(sameRepository('a.azurecr.io/node:15', 'b.azurecr.io/node:15')).toBe(false);
  });
});
