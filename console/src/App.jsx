import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { AppShell, Button, Center, Loader, Tabs, Text, Title } from '@mantine/core';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { onUnauthorized, storedToken, storeToken } from './api.js';
import { SignIn } from './SignIn.jsx';
import { JobsList } from './jobs/JobsList.jsx';
import { JobDetail } from './jobs/JobDetail.jsx';
import { Things } from './things/Things.jsx';
import { ThingDetail } from './things/ThingDetail.jsx';
import { ThingGroups } from './groups/ThingGroups.jsx';
import { ThingGroupDetail } from './groups/ThingGroupDetail.jsx';
import { CommandsList } from './commands/CommandsList.jsx';
import { CommandDetail } from './commands/CommandDetail.jsx';
import classes from './App.module.css';

// The form carries the JSON editor (CodeMirror): loaded when first opened.
const CreateJob = lazy(() => import('./jobs/CreateJob.jsx').then((m) => ({ default: m.CreateJob })));
const SendCommand = lazy(() => import('./commands/SendCommand.jsx').then((m) => ({ default: m.SendCommand })));

const TABS = [
  { value: 'jobs', label: 'Jobs' },
  { value: 'commands', label: 'Commands' },
  { value: 'things', label: 'Things' },
  { value: 'thing-groups', label: 'Thing Groups' },
];

export function App() {
  const [token, setToken] = useState(storedToken);
  const [expired, setExpired] = useState(false);
  const queryClient = useQueryClient();

  const signOut = useCallback(
    (tokenRejected) => {
      storeToken(null);
      setToken(null);
      setExpired(tokenRejected);
      queryClient.clear();
    },
    [queryClient],
  );
  // Signed in, a 401 means the token is no longer accepted: sign in again.
  useEffect(() => (token ? onUnauthorized(() => signOut(true)) : undefined), [token, signOut]);

  if (!token) {
    return (
      <SignIn
        expired={expired}
        onSignedIn={(t) => {
          storeToken(t);
          setToken(t);
          setExpired(false);
        }}
      />
    );
  }
  return <Console onSignOut={() => signOut(false)} />;
}

function Console({ onSignOut }) {
  const location = useLocation();
  const navigate = useNavigate();
  const tab = TABS.find((t) => location.pathname.startsWith(`/${t.value}`))?.value ?? 'jobs';

  return (
    <AppShell header={{ height: { base: 92, sm: 56 } }} padding="md">
      <AppShell.Header>
        <div className={classes.header}>
          <Title order={1} size="h4" className={classes.title}>
            fleetjobs
          </Title>
          <Tabs
            value={tab}
            onChange={(value) => navigate(`/${value}`)}
            variant="pills"
            className={classes.tabs}
          >
            <Tabs.List aria-label="Sections">
              {TABS.map((t) => (
                <Tabs.Tab key={t.value} value={t.value}>
                  {t.label}
                </Tabs.Tab>
              ))}
            </Tabs.List>
          </Tabs>
          <div className={classes.actions}>
            <Text size="sm" c="dimmed" visibleFrom="sm">
              Commands &amp; Jobs
            </Text>
            <Button variant="default" size="xs" onClick={onSignOut}>
              Sign out
            </Button>
          </div>
        </div>
      </AppShell.Header>
      <AppShell.Main>
        <Routes>
          <Route path="/" element={<Navigate to="/jobs" replace />} />
          <Route path="/jobs" element={<JobsList />} />
          <Route
            path="/jobs/new"
            element={
              <Suspense
                fallback={
                  <Center py="xl">
                    <Loader aria-label="Loading" />
                  </Center>
                }
              >
                <CreateJob />
              </Suspense>
            }
          />
          <Route path="/jobs/:jobId" element={<JobDetail />} />
          <Route path="/commands" element={<CommandsList />} />
          <Route path="/commands/new" element={<Suspense fallback={<Loader aria-label="Loading" />}><SendCommand /></Suspense>} />
          <Route path="/commands/:executionId" element={<CommandDetail />} />
          <Route path="/things" element={<Things />} />
          <Route path="/things/:thingName" element={<ThingDetail />} />
          <Route path="/thing-groups" element={<ThingGroups />} />
          <Route path="/thing-groups/:groupName" element={<ThingGroupDetail />} />
          <Route path="*" element={<Navigate to="/jobs" replace />} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}
