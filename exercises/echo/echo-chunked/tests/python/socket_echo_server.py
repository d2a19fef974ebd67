#!/usr/bin/env python3
# socket_echo_server.py: the server of the handout "Echo Client/Server"
# (004_89b07ea1eb812723.txt). The handout shows only this program's output; the program is the
# classic socket_echo_server.py of Doug Hellmann's "Python Module of the Week" that prints
# exactly that output. Transcribed in Python 3; what differs from the original is marked
# "# added" or "# changed", and is only what a test needs:
#   - host and port come from argv (default localhost 10000), so a test can use port 0;
#   - once listening, the real address is printed on stderr as our servers print it
#     (`listening on <ip>:<port> (tcp)`), so a test knows the port the OS chose (printed
#     after listen(), not after bind(): a client that connects in between is refused);
#   - Python 3 prints bytes as b'...': the received data is decoded to print the text the
#     handout shows.
# Run: python3 -u socket_echo_server.py [HOST [PORT]]
import socket
import sys

# Create a TCP/IP socket
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Bind the socket to the port
server_address = (sys.argv[1] if len(sys.argv) > 1 else 'localhost',  # changed
                  int(sys.argv[2]) if len(sys.argv) > 2 else 10000)    # changed
print('starting up on %s port %s' % server_address)
sock.bind(server_address)

# Listen for incoming connections
sock.listen(1)
print('listening on %s:%d (tcp)' % sock.getsockname(), file=sys.stderr)  # added

while True:
    # Wait for a connection
    print('waiting for a connection')
    connection, client_address = sock.accept()

    try:
        print('connection from', client_address)

        # Receive the data in small chunks and retransmit it
        while True:
            data = connection.recv(16)
            print('received "%s"' % data.decode())  # changed: .decode()
            if data:
                print('sending data back to the client')
                connection.sendall(data)
            else:
                print('no more data from', client_address)
                break

    finally:
        # Clean up the connection
        connection.close()
