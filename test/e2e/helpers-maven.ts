// Shared helpers for the end-to-end tests that drive the real Maven 3.8.7 and Gradle 4.4.1 (Debian) against a
// Wharf child process. Maven Central is unreachable here, so plugins come from /usr/share/maven-repo (the apt
// plugin packages), declared as `central` in every settings.xml (shared/CLIENTS.md, section 2). Every run gets
// its own local repository, so resolving really downloads.
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/wharf.ts';
import { run, type RunResult } from './helpers-npm.ts';

export type { RunResult };

export const DEBIAN_REPO = 'file:///usr/share/maven-repo';

export interface Server {
  id: string;
  username: string;
  password: string;
}

const xmlEsc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A settings.xml with its own local repository, the Debian repository as central, and the given servers. */
export function settingsXml(dir: string, servers: Server[] = []): string {
  const file = path.join(dir, 'settings.xml');
  const central = (tag: string) => `
      <${tag}>
        <id>central</id>
        <url>${DEBIAN_REPO}</url>
        <releases><enabled>true</enabled><checksumPolicy>ignore</checksumPolicy></releases>
        <snapshots><enabled>false</enabled></snapshots>
      </${tag}>`;
  fs.writeFileSync(
    file,
    `<settings>
  <localRepository>${xmlEsc(path.join(dir, 'm2'))}</localRepository>
  <servers>${servers.map((s) => `
    <server><id>${xmlEsc(s.id)}</id><username>${xmlEsc(s.username)}</username><password>${xmlEsc(s.password)}</password></server>`).join('')}
  </servers>
  <profiles>
    <profile>
      <id>debian</id>
      <repositories>${central('repository')}
      </repositories>
      <pluginRepositories>${central('pluginRepository')}
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>debian</activeProfile></activeProfiles>
</settings>
`,
  );
  return file;
}

/** A jar project (one class) deploying to `url` (releases and snapshots) under the server id `wharf`. */
export function javaProject(c: { groupId: string; artifactId: string; version: string; url: string; message?: string }): string {
  const dir = tempDir('wharf-mvn-project-');
  const pkg = c.groupId.replace(/[^A-Za-z0-9.]/g, '');
  fs.writeFileSync(
    path.join(dir, 'pom.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>${c.groupId}</groupId>
  <artifactId>${c.artifactId}</artifactId>
  <version>${c.version}</version>
  <packaging>jar</packaging>
  <name>${c.artifactId}</name>
  <description>An end-to-end test library</description>
  <url>https://example.com/${c.artifactId}</url>
  <licenses><license><name>Apache-2.0</name></license></licenses>
  <properties>
    <maven.compiler.source>1.8</maven.compiler.source>
    <maven.compiler.target>1.8</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <distributionManagement>
    <repository><id>wharf</id><url>${c.url}</url></repository>
    <snapshotRepository><id>wharf</id><url>${c.url}</url></snapshotRepository>
  </distributionManagement>
</project>
`,
  );
  const src = path.join(dir, 'src/main/java', ...pkg.split('.'));
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'Hello.java'), `package ${pkg};\npublic class Hello { public static String message() { return ${JSON.stringify(c.message ?? 'hello')}; } }\n`);
  return dir;
}

const javaEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  LANG: 'C.UTF-8',
  ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}),
});

/** Runs mvn in batch mode with `settings`; a missing mvn rejects (a failure, never a skip). */
export function mvn(settings: string, args: string[], cwd: string, timeoutMs = 150_000): Promise<RunResult> {
  const home = path.dirname(settings);
  return run('mvn', ['-B', '-e', '-s', settings, '-Dmaven.repo.local=' + path.join(home, 'm2'), ...args], { cwd, env: { ...javaEnv(home), MAVEN_OPTS: '-Xmx512m -XX:TieredStopAtLevel=1' }, timeoutMs });
}

/** Runs Debian's Gradle 4.4.1 without a daemon, with its own Gradle home. */
export function gradle(dir: string, args: string[], timeoutMs = 180_000): Promise<RunResult> {
  const home = path.join(dir, '.home');
  fs.mkdirSync(home, { recursive: true });
  return run('gradle', ['--no-daemon', '--console=plain', '-g', path.join(dir, '.gradle-home'), ...args], { cwd: dir, env: { ...javaEnv(home), GRADLE_OPTS: '-Xmx512m' }, timeoutMs });
}

/** Throws with the client's output when it failed. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.output.slice(-6000)}`);
  return r;
}

/** `mvn dependency:get` of one artifact from `url` (server id `wharf`), non-transitive. */
export function dependencyGet(settings: string, artifact: string, url: string, cwd: string): Promise<RunResult> {
  return mvn(settings, ['org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get', `-Dartifact=${artifact}`, `-DremoteRepositories=wharf::default::${url}`, '-Dtransitive=false'], cwd);
}

/** A file in a settings' local repository, e.g. local(settings, 'com/example/hello/1.0/hello-1.0.jar'). */
export function localFile(settings: string, rel: string): string {
  return path.join(path.dirname(settings), 'm2', rel);
}
