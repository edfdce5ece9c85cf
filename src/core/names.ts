// Name rules shared by every format and the identity model. Names reach URLs and paths, so they are strict.
import { invalid } from './errors.ts';

/** Users and orgs: GitHub's rule, letters, digits and single hyphens, 1–39 characters. */
export function checkOwnerName(name: string): string {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/.test(name)) {
    throw invalid(`invalid owner name "${name}": use letters, digits and single hyphens, at most 39 characters`);
  }
  return name;
}

/** Repositories: letters, digits, '.', '_' and '-', 1–100 characters, not '.' or '..'. */
export function checkRepoName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name) || name === '.' || name === '..' || name.endsWith('.git')) {
    throw invalid(`invalid repository name "${name}": use letters, digits, '.', '_' and '-', at most 100 characters, not ending in .git`);
  }
  return name;
}

/**
 * The OWNER/NAME a repository URL points at, by its last two path segments, whatever its scheme and host
 * (https://github.com/alice/hello.git, git+ssh://git@host/alice/hello, github:alice/hello, alice/hello).
 */
export function repoSlugFromUrl(url: string | undefined | null): { owner: string; name: string } | null {
  if (!url || typeof url !== 'string') return null;
  let s = url.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''); // scheme://
  s = s.replace(/^[a-z]+:(?!\/\/)/i, ''); // github:alice/hello, git@host:alice/hello → after host handled below
  s = s.replace(/[?#].*$/, '').replace(/\/+$/, '').replace(/\.git$/i, '');
  const parts = s.split(/[/:]/).filter(Boolean);
  if (parts.length < 2) return null;
  const owner = parts[parts.length - 2];
  const name = parts[parts.length - 1];
  try {
    checkOwnerName(owner);
    checkRepoName(name);
  } catch {
    return null;
  }
  return { owner, name };
}
