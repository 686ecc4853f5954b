// A tiny path router for the single-page app under /api/dashboard/ (the function answers index.html for every page
// path, so links work when opened directly, reloaded or bookmarked).
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/api/dashboard';

export interface Location {
  /** Path below BASE, e.g. `/cascades/rebuild-1` (always starts with `/`). */
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const raw = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '/';
  return { path: raw === '' ? '/' : raw, query: new URLSearchParams(location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  const url = `${BASE}${to.startsWith('/') ? to : `/${to}`}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((l) => l());
  if (!replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return loc;
}

/** An in-app link: a real <a href> (open in new tab works), navigating without a reload on a plain click. */
export function linkHandler(to: string): { href: string; onClick: (e: MouseEvent) => void } {
  return {
    href: `${BASE}${to}`,
    onClick: (e: MouseEvent) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(to);
    },
  };
}
