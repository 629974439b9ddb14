// The official Node tus server (@tus/server with @tus/file-store) on a free
// loopback port, storing into the directory given. Prints
// "listening on http://127.0.0.1:PORT/files" once ready.
'use strict'
const path = require('path')
const http = require('http')
const modules = path.join(__dirname, '..', 'node_modules')
const { Server } = require(path.join(modules, '@tus', 'server'))
const { FileStore } = require(path.join(modules, '@tus', 'file-store'))

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: process.argv[2] }) })
const server = http.createServer((req, res) => tus.handle(req, res))
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/files`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
