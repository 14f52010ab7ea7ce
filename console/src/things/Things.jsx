import { useState } from 'react';
import { Alert, Button, Code, CopyButton, Group, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.js';
import { RegistryList } from '../ui/Registry.jsx';

/** The success title in the text colour: teal on its pale teal falls short of AA contrast. */
const SUCCESS_TITLE = { label: { color: 'var(--mantine-color-text)' } };

const THINGS = {
  path: '/things',
  route: 'things',
  title: 'Things',
  listKey: 'things',
  nameKey: 'thingName',
  columns: [
    {
      label: 'Attributes',
      render: (t) =>
        Object.entries(t.attributes ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') || '—',
    },
  ],
  deleteMessage:
    'The thing leaves its groups, its executions are removed and its device can no longer sign in.',
};

/** Registers a thing; its device token is shown once, with a copy button. */
function CreateThing() {
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: (thingName) => api('POST', '/things', { thingName }),
    onSuccess: (thing) => {
      setCreated(thing);
      setName('');
      queryClient.invalidateQueries({ queryKey: ['/things'] });
    },
  });
  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setCreated(null);
          create.mutate(name.trim());
        }}
      >
        <Stack>
          <Title order={3}>Register a thing</Title>
          <Group align="end" wrap="wrap">
            <TextInput
              label="Thing name"
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={create.error?.message}
              w={320}
            />
            <Button type="submit" loading={create.isPending} disabled={!name.trim()}>
              Create Thing
            </Button>
          </Group>
          {created && (
            <Alert color="teal" styles={SUCCESS_TITLE} title={`${created.thingName} is registered`} role="status">
              <Stack gap="xs">
                <Text size="sm">
                  Its device token, shown this once: the device signs in with its thing name and this token.
                </Text>
                <Group gap="xs" wrap="nowrap">
                  <Code aria-label="Device token" style={{ overflowWrap: 'anywhere' }}>
                    {created.deviceToken}
                  </Code>
                  <CopyButton value={created.deviceToken}>
                    {({ copied, copy }) => (
                      <Button size="xs" variant="light" onClick={copy}>
                        {copied ? 'Copied' : 'Copy'}
                      </Button>
                    )}
                  </CopyButton>
                </Group>
              </Stack>
            </Alert>
          )}
        </Stack>
      </form>
    </Paper>
  );
}

export function Things() {
  return <RegistryList kind={THINGS} createForm={<CreateThing />} />;
}
