// The acr-cascade dashboard: a static single-page app whose every piece of data comes from the app's own HTTP API
// (/api/*) with the caller's credential (see api.ts). Pages: Impact, Cascades (and one cascade live), Credentials,
// Index.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { adoptFragmentCredential, onUnauthenticated, readCredential, saveCredential, type Credential } from './api';
import { CascadePage } from './pages/cascade';
import { CascadesPage } from './pages/cascades';
import { CredentialsPage } from './pages/credentials';
import { ImpactPage } from './pages/impact';
import { IndexPage } from './pages/indexPage';
import { linkHandler, useLocation, type Location } from './router';
import './style.css';

const NAV: { path: string; label: string }[] = [
  { path: '/impact', label: 'Impact' },
  { path: '/cascades', label: 'Cascades' },
  { path: '/credentials', label: 'Credentials' },
  { path: '/index', label: 'Index' },
];

function Page({ loc }: { loc: Location }) {
  const m = /^\/cascades\/([^/]+)$/.exec(loc.path);
  if (m) return <CascadePage id={decodeURIComponent(m[1]!)} />;
  switch (loc.path) {
    case '/cascades':
      return <CascadesPage loc={loc} />;
    case '/credentials':
      return <CredentialsPage />;
    case '/index':
      return <IndexPage />;
    default:
      return <ImpactPage loc={loc} />;
  }
}

function SignIn({ reason, onDone }: { reason: string | undefined; onDone: () => void }) {
  const [kind, setKind] = useState<Credential['kind']>('key');
  const [value, setValue] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    if (!value.trim()) return;
    saveCredential({ kind, value });
    onDone();
  };
  return (
    <main id="main" class="signin">
      <h1>Sign in to acr-cascade</h1>
      {reason ? (
        <p class="error" role="alert">
          {reason}
        </p>
      ) : null}
      <p>
        The dashboard calls the acr-cascade API with your credential. It is kept in this browser tab only (session
        storage) and sent only to this app.
      </p>
      <form onSubmit={submit}>
        <fieldset>
          <legend>Credential</legend>
          <label>
            <input type="radio" name="kind" checked={kind === 'key'} onChange={() => setKind('key')} /> Function key
            (keys mode, e.g. the local stack: <code>.local/stack.json</code> → <code>functions.functionKey</code>)
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === 'token'} onChange={() => setKind('token')} /> Entra ID
            access token (
            <code>az account get-access-token --resource &lt;API app id URI&gt; --query accessToken -o tsv</code>)
          </label>
        </fieldset>
        <label class="block">
          {kind === 'key' ? 'Function key' : 'Access token'}
          <input
            type="password"
            name="credential"
            autoComplete="off"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

function App() {
  const loc = useLocation();
  const [signedIn, setSignedIn] = useState(() => readCredential() !== undefined);
  const [reason, setReason] = useState<string | undefined>(undefined);
  useEffect(
    () =>
      onUnauthenticated(() => {
        saveCredential(undefined);
        setReason('The API refused the credential (missing, wrong or expired). Sign in again.');
        setSignedIn(false);
      }),
    [],
  );
  const section = `/${loc.path.split('/')[1] ?? ''}`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">acr-cascade</span>
        <nav aria-label="Pages">
          {NAV.map((n) => (
            <a
              key={n.path}
              {...linkHandler(n.path)}
              aria-current={section === n.path || (n.path === '/impact' && section === '/') ? 'page' : undefined}
            >
              {n.label}
            </a>
          ))}
        </nav>
        {signedIn ? (
          <button
            type="button"
            class="link"
            onClick={() => {
              saveCredential(undefined);
              setReason(undefined);
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        ) : null}
      </header>
      {signedIn ? (
        <main id="main" tabIndex={-1}>
          <Page loc={loc} />
        </main>
      ) : (
        <SignIn
          reason={reason}
          onDone={() => {
            setReason(undefined);
            setSignedIn(true);
          }}
        />
      )}
    </>
  );
}

adoptFragmentCredential();
render(<App />, document.getElementById('app')!);
