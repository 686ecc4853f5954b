// Data hooks: load from the API, optionally poll while something is in flight.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` when `key` changes; while `pollMs(data)` returns a number, loads again after that many ms. A stale
 * answer (for an older key) is dropped.
 */
export function useApi<T>(
  key: string | undefined,
  load: () => Promise<T>,
  pollMs?: (data: T | undefined) => number | undefined,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollRef = useRef(pollMs);
  pollRef.current = pollMs;

  useEffect(() => {
    setData(undefined);
    setError(undefined);
  }, [key]);

  useEffect(() => {
    if (key === undefined) return undefined;
    const mine = ++generation.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLoading(true);
    loadRef
      .current()
      .then(
        (d) => {
          if (mine !== generation.current) return;
          setData(d);
          setError(undefined);
          const next = pollRef.current?.(d);
          if (next !== undefined) timer = setTimeout(() => setTick((t) => t + 1), next);
        },
        (err: unknown) => {
          if (mine !== generation.current) return;
          setError(err instanceof ApiFailure ? err : new ApiFailure(0, 'Error', String(err)));
          // Keep polling through a transient failure (the host restarting, a 503) while something is in flight.
          const next = pollRef.current?.(undefined);
          if (next !== undefined) timer = setTimeout(() => setTick((t) => t + 1), next * 2);
        },
      )
      .finally(() => {
        if (mine === generation.current) setLoading(false);
      });
    return () => {
      if (timer) clearTimeout(timer);
    };
  }, [key, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
