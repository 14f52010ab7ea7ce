import { useState } from 'react';
import { Alert, Anchor, Autocomplete, Button, Grid, Group, NumberInput, Paper, Stack, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { api, get, query, seg } from '../api.js';
import { JsonEditor } from '../ui/JsonEditor.jsx';

const EXAMPLE_PARAMS = `{
  "value": 24
}`;

const DEFAULT_TTL = 30;

/** What is wrong with `text` as a command's parameters, or null. */
export function paramsError(text) {
  if (!text.trim()) return 'The parameters are required: a JSON object ({} for none).';
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `Syntax error: ${e.message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'The parameters must be a JSON object ({ … }).';
  }
  return null;
}

/** Things from the registry whose name starts with what is typed. */
function useThingNames(search) {
  const [prefix] = useDebouncedValue(search.trim(), 200);
  return useQuery({
    queryKey: ['/things', 'names', prefix],
    queryFn: () => get(`/things${query({ namePrefix: prefix, limit: 50 })}`),
    select: (data) => (data?.things ?? []).map((item) => item.thingName),
    placeholderData: keepPreviousData,
    staleTime: 10_000,
  });
}

export function SendCommand() {
  const [thingName, setThingName] = useState('');
  const [action, setAction] = useState('');
  const [params, setParams] = useState(EXAMPLE_PARAMS);
  const [ttl, setTtl] = useState(DEFAULT_TTL);
  const [paramsTouched, setParamsTouched] = useState(false);
  const [submitted, setSubmitted] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const things = useThingNames(thingName);

  const paramError = paramsError(params);
  const missingThing = !thingName.trim();
  const missingAction = !action.trim();
  const send = useMutation({
    mutationFn: (body) => api('POST', '/commands', body),
    onSuccess: (created) => {
      queryClient.invalidateQueries({ queryKey: ['commands'] });
      queryClient.setQueryData(['command', created.executionId], created);
      navigate(`/commands/${seg(created.executionId)}`);
    },
  });

  const submit = (event) => {
    event.preventDefault();
    setSubmitted(true);
    setParamsTouched(true);
    if (paramError || missingThing || missingAction) return;
    const body = { thingName: thingName.trim(), action: action.trim() };
    body.params = JSON.parse(params);
    if (ttl !== '' && ttl !== null && ttl !== undefined) body.ttl = ttl;
    send.mutate(body);
  };

  return (
    <form onSubmit={submit} noValidate aria-labelledby="send-command-title">
      <Stack maw={960}>
        <Group justify="space-between">
          <Title order={2} id="send-command-title">
            Send Command
          </Title>
          <Anchor component={Link} to="/commands" size="sm">
            Back to Commands
          </Anchor>
        </Group>
        <Paper withBorder p="md">
          <Stack>
            <Grid>
              <Grid.Col span={{ base: 12, sm: 5 }}>
                <Autocomplete
                  label="Thing"
                  description="The one connected device to ask"
                  withAsterisk
                  value={thingName}
                  onChange={setThingName}
                  data={things.data ?? []}
                  error={submitted && missingThing ? 'Choose the thing to send the command to.' : null}
                />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 4 }}>
                <TextInput
                  label="Action"
                  description="For example setTemperature, reboot"
                  withAsterisk
                  value={action}
                  onChange={(e) => setAction(e.currentTarget.value)}
                  error={submitted && missingAction ? 'The action is required.' : null}
                />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 3 }}>
                <NumberInput
                  label="TTL"
                  description="Seconds, 1 to 3600"
                  min={1}
                  max={3600}
                  allowDecimal={false}
                  value={ttl}
                  onChange={setTtl}
                />
              </Grid.Col>
            </Grid>
            <JsonEditor
              id="command-params"
              label="Parameters"
              description="The JSON object the device receives with the action ({} for none)"
              value={params}
              onChange={(value) => {
                setParams(value);
                setParamsTouched(true);
              }}
              error={paramsTouched ? paramError : null}
              minHeight="140px"
            />
          </Stack>
        </Paper>

        {send.error && (
          <Alert color="red" title="The command was not sent" role="alert">
            {send.error.message}
          </Alert>
        )}
        {submitted && paramError && (
          <Alert color="red" title="Fix the parameters first" role="alert">
            {paramError}
          </Alert>
        )}
        <Group>
          <Button type="submit" loading={send.isPending}>
            Send Command
          </Button>
          <Button variant="default" component={Link} to="/commands">
            Cancel
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
