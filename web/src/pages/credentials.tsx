// Credentials: every registry login of every task (Key Vault-backed user name/password, or identity-only), with its
// status, days left, whether acr-cascade can rotate it, and the fix; "Check now" runs a credential check.
import { useState } from 'preact/hooks';
import { api, ApiFailure, type CredentialList } from '../api';
import { Badge, CopyButton, ErrorBox, Time, shortName } from '../components';
import { useApi } from '../hooks';

const STATUSES = [
  'healthy',
  'expiring',
  'expired',
  'disabled',
  'missing',
  'accessDenied',
  'outdatedVersion',
  'notYetValid',
  'rotated',
  'refreshed',
  'unknown',
];

export function CredentialsPage() {
  const [status, setStatus] = useState('');
  // While a check runs: the check id the API answered with, until the list's lastCheck is that check.
  const [checking, setChecking] = useState<{ checkId: string } | undefined>(undefined);
  const [failure, setFailure] = useState<ApiFailure | undefined>(undefined);
  const list = useApi<CredentialList>(
    `credentials:${status}`,
    () => api<CredentialList>('GET', `credentials${status ? `?status=${encodeURIComponent(status)}` : ''}`),
    (l) => {
      if (!checking) return undefined;
      if (l?.lastCheck?.checkId === checking.checkId) {
        setChecking(undefined);
        return undefined;
      }
      return 1500;
    },
  );

  const checkNow = async () => {
    setFailure(undefined);
    try {
      const started = await api<{ checkId?: string }>('POST', 'credentials/check', {});
      if (started.checkId) setChecking({ checkId: started.checkId });
      list.reload();
    } catch (err) {
      setFailure(err as ApiFailure);
    }
  };

  const l = list.data;
  return (
    <>
      <h1>Credentials</h1>
      <div class="toolbar">
        <label>
          Status{' '}
          <select name="status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="primary" onClick={() => void checkNow()} disabled={checking !== undefined}>
          {checking ? 'Checking…' : 'Check now'}
        </button>
        <span class="muted" role="status">
          {l?.lastCheck ? (
            <>
              Last check <Time iso={l.lastCheck.checkedAt} /> ({l.lastCheck.trigger})
            </>
          ) : l?.note ? (
            l.note
          ) : null}
        </span>
      </div>
      <ErrorBox error={failure} what="Starting a check" />
      <ErrorBox error={list.error} what="Listing credentials" />
      {l ? (
        <table class="grid credentials" aria-label="Task registry logins">
          <colgroup>
            <col style={{ width: '13%' }} />
            <col style={{ width: '15%' }} />
            <col style={{ width: '15%' }} />
            <col style={{ width: '10%' }} />
            <col style={{ width: '6%' }} />
            <col style={{ width: '7%' }} />
            <col style={{ width: '34%' }} />
          </colgroup>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Login</th>
              <th scope="col">Credential</th>
              <th scope="col">Status</th>
              <th scope="col">Days left</th>
              <th scope="col">Rotatable</th>
              <th scope="col">Details and fix</th>
            </tr>
          </thead>
          <tbody>
            {l.credentials.map((c, i) => (
              <tr key={`${c.task}-${c.loginServer}-${c.field}-${i}`} data-task={c.taskName} data-status={c.status}>
                <td title={c.task}>{c.taskName}</td>
                <td class="mono">{c.loginServer}</td>
                <td>
                  {c.field === 'identity' ? (
                    <>
                      identity <span class="mono small">{c.identity ?? ''}</span>
                    </>
                  ) : (
                    <>
                      {c.field}:{' '}
                      <span class="mono" title={c.secret}>
                        {c.secret ? shortName(c.secret) : '—'}
                      </span>
                    </>
                  )}
                </td>
                <td>
                  <Badge value={c.status} />
                </td>
                <td>{c.daysLeft ?? <span class="muted">—</span>}</td>
                <td>{c.rotatable ? 'yes' : 'no'}</td>
                <td>
                  <div class="small">{c.message}</div>
                  {c.fix ? (
                    <div class="fix">
                      <pre>
                        <code>{c.fix}</code>
                      </pre>
                      <CopyButton text={c.fix} label="Copy fix" />
                    </div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {l && l.credentials.length === 0 ? (
        <p class="muted">No credentials{status ? ` with status ${status}` : ''}.</p>
      ) : null}
    </>
  );
}
