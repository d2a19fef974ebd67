# PRÁCTICA TCP 1.3, the server, transcribed from the handout (002_e7c0548db0e94e0c.txt).
# Changes, each marked "# added": the address comes from argv (host port; port 0 lets the OS
# choose) instead of ("127.0.0.1",6780), and once listening, the bound address is printed on
# stderr as our servers do, so that it can be started on port 0. Run it with python3 -u
# (unbuffered), or its transcript arrives only when it exits.
import datetime
import socket
import sys

MTU = 1024
flag = 0

msg = "Hello Client, this is a long message that you will received in chunks of 20 bytes"
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind((sys.argv[1], int(sys.argv[2])))  # added: was sock.bind(("127.0.0.1",6780))
sock.listen(1)
print("listening on %s:%d (tcp)" % sock.getsockname(), file=sys.stderr)  # added

while True:
    print("Waiting for clients...")
    conn, client_address = sock.accept()
    print("Connection received from client " + str(client_address))
    
    try:
        while True:
            data = conn.recv(MTU).decode()

            if(str(data) == "EXIT"):
                print("Received EXIT command from client")
                conn.sendall("Bye".encode())
                flag = 1
                break
                
            # Adición del comando TIME, que devuelve un objeto datetime casteado a string para que sea
            # compatible con la instrucción .encode(). El cliente deberá recibir este string y parsearlo
            # de nuevo a un objeto datetime para su correcta interpretación
            elif (str(data) == "TIME"):
                time = datetime.datetime.now()
                conn.sendall(str(time).encode())

        if flag == 1:
            conn.close()
            break
            
    except ConnectionResetError:
        print("Lost connection")
        conn.close()
        break
