import { useState } from 'react';
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { api } from './api.js';

/** Sign in with the API token: checked against the API before it is kept. */
export function SignIn({ onSignedIn, expired }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(
    expired ? 'The API token was refused; sign in again.' : null,
  );
  const [checking, setChecking] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    const candidate = token.trim();
    if (!candidate) {
      setError('Enter the API token.');
      return;
    }
    setChecking(true);
    setError(null);
    try {
      await api('GET', '/jobs?limit=1', undefined, candidate);
      onSignedIn(candidate);
    } catch (e) {
      setError(
        e.status === 401
          ? 'That API token is not valid.'
          : `Could not sign in: ${e.message}`,
      );
    } finally {
      setChecking(false);
    }
  };

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420}>
        <form onSubmit={submit} noValidate>
          <Stack>
            <Title order={1} size="h3">
              fleetjobs console
            </Title>
            <Text size="sm" c="dimmed">
              Sign in with the API token (printed by <code>scripts/up.sh</code>, kept in{' '}
              <code>.fleetjobs/api_token</code>). It is kept for this browser tab&apos;s session only.
            </Text>
            <PasswordInput
              label="API token"
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              autoComplete="current-password"
              data-autofocus
              autoFocus
            />
            {error && (
              <Alert color="red" role="alert" title="Sign-in failed">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={checking}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
