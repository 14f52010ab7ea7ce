import { useState } from 'react';
import { Alert, Button, Code, CopyButton, Group, Paper, Stack, TagsInput, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../api.js';
import { RegistryList } from '../ui/Registry.jsx';
import { attributeEntries, parseAttributes } from '../ui/attributes.js';

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
      render: (t) => attributeEntries(t.attributes).join(', ') || '—',
    },
  ],
  deleteMessage:
    'The thing leaves its groups, its executions are removed and its device can no longer sign in.',
};

/** Registers a thing; its device token is shown once, with a copy button. */
function CreateThing() {
  const [name, setName] = useState('');
  const [entries, setEntries] = useState([]);
  const [created, setCreated] = useState(null);
  const queryClient = useQueryClient();
  const parsed = parseAttributes(entries);
  const create = useMutation({
    mutationFn: () => api('POST', '/things', { thingName: name.trim(), attributes: parsed.attributes }),
    onSuccess: (thing) => {
      setCreated(thing);
      setName('');
      setEntries([]);
      queryClient.invalidateQueries({ queryKey: ['/things'] });
    },
  });
  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setCreated(null);
          if (!parsed.error) create.mutate();
        }}
      >
        <Stack>
          <Title order={3}>Register a thing</Title>
          <Group align="flex-start" wrap="wrap">
            <TextInput
              label="Thing name"
              description="Letters, digits, : _ -"
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={create.error?.message}
              w={320}
            />
            <TagsInput
              label="Attributes"
              description="key=value, Enter after each"
              value={entries}
              onChange={setEntries}
              error={parsed.error}
              w={320}
            />
          </Group>
          <Group>
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
