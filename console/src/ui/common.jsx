import { useState } from 'react';
import { Alert, Badge, Button, Group, Text } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { statusColor } from '../format.js';

export function StatusBadge({ status }) {
  const color = statusColor(status);
  return (
    // Dark text on the status's pale colour: AA contrast for every status.
    <Badge color={color} c="dark.8" variant="light" radius="sm">
      {status}
    </Badge>
  );
}

export function ErrorAlert({ error, title = 'Request failed' }) {
  if (!error) return null;
  return (
    <Alert color="red" title={title} role="alert">
      {error.message}
    </Alert>
  );
}

/**
 * A server-side paged list (the API's opaque nextToken): the tokens of the
 * pages before are kept so Previous works. `key` identifies the list and its
 * filters; changing it starts again at the first page.
 */
export function usePagedQuery(key, fetchPage, options = {}) {
  const [pages, setPages] = useState({ key: JSON.stringify(key), tokens: [null] });
  const current = pages.key === JSON.stringify(key) ? pages : { key: JSON.stringify(key), tokens: [null] };
  if (current !== pages) setPages(current);
  const token = current.tokens[current.tokens.length - 1];
  const result = useQuery({
    queryKey: [...key, token],
    queryFn: () => fetchPage(token),
    placeholderData: keepPreviousData,
    ...options,
  });
  const nextToken = result.data?.nextToken;
  return {
    ...result,
    page: current.tokens.length,
    hasPrevious: current.tokens.length > 1,
    hasNext: Boolean(nextToken),
    previous: () => setPages({ ...current, tokens: current.tokens.slice(0, -1) }),
    next: () => nextToken && setPages({ ...current, tokens: [...current.tokens, nextToken] }),
  };
}

export function Pager({ paged, label }) {
  return (
    <Group justify="flex-end" gap="xs" aria-label={`${label} pages`} role="navigation">
      <Text size="sm" c="dimmed">
        Page {paged.page}
      </Text>
      <Button variant="default" size="xs" disabled={!paged.hasPrevious} onClick={paged.previous}>
        Previous
      </Button>
      <Button variant="default" size="xs" disabled={!paged.hasNext} onClick={paged.next}>
        Next
      </Button>
    </Group>
  );
}
